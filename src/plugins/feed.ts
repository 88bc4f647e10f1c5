import fp from 'fastify-plugin'
import { engineOf } from '../db/engines/engine.js'
import { FeedListener } from '../db/feed/feed-listener.js'
import { FeedTail } from '../feed/tail.js'
import { PageCache } from '../feed/page-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where GET /changes requests with `wait` wait for the next commit. */
    feedTail: FeedTail
    /** Pages of GET /changes read once for concurrent requests, and kept once complete. */
    feedPages: PageCache
  }
}

/**
 * Wakes long-polling readers of the change feed: after each commit of this process that recorded entries,
 * and on PostgreSQL after every replica's (one LISTEN connection per process). Waiting requests are
 * answered (empty) when the server closes.
 */
export default fp(async (fastify) => {
  const { repository } = fastify
  const tail = new FeedTail(repository, err => { fastify.log.warn({ err }, 'reading the change feed for waiting requests failed') }, fastify.config.PAGE_MAX_BYTES)
  repository.onFeed(write => { tail.advance(write.head!) })
  fastify.decorate('feedTail', tail)
  // 16 pages of the largest size (16 MiB by default), at most 64 MiB.
  fastify.decorate('feedPages', new PageCache(Math.min(16 * fastify.config.PAGE_MAX_BYTES, 64 * 1024 * 1024)))

  if (engineOf(fastify.config.DATABASE_URL) === 'postgresql') {
    const listener = new FeedListener(fastify.config.DATABASE_URL, {
      onHead: head => { tail.advance(head) },
      onReconnect: () => { tail.poke() },
      onError: err => { fastify.log.warn({ err }, 'change feed notifications: connection lost; listening again shortly') }
    })
    await listener.start()
    fastify.addHook('onClose', async () => { await listener.close() })
  }
  fastify.addHook('preClose', async () => { tail.close() })
}, { name: 'feed', dependencies: ['config', 'database'] })
