import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChangesPage, ChangesQuery, ErrorResponse, GoneResponse } from '../schemas/api.js'
import { pageOf, serialise, type Page } from '../feed/page.js'

/** A page read began after entries that a prune deleted since the request read the feed's bounds. */
class PrunedMeanwhile extends Error {}

/**
 * The change feed: entries after a cursor, in commit order, at most `limit` and PAGE_MAX_BYTES (the first
 * entry always: a follower never stalls). With `wait`, a request that finds nothing waits (long poll) for
 * the next commit, or answers an empty page when the wait is over. A cursor older than the oldest kept
 * entry answers 410. The page is sent as JSON made once (feed/page.ts): concurrent requests for one cursor
 * range share one read, and a page that stopped before the head is kept for the next (feed/page-cache.ts).
 * Only a read of the database takes a read slot (READ_CONCURRENCY): a follower at the head, waiting or
 * woken with the page every waiter shares, takes none, so that 2,000 long polls arriving together are not
 * refused for want of a place in the read queue. At most LONG_POLL_MAX wait at once; one more answers 503.
 */
const changesRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { repository, feedTail, feedPages } = fastify
  const { PAGE_MAX_BYTES: maxBytes, LONG_POLL_MAX: longPollMax } = fastify.config
  fastify.get('/changes', {
    config: { ownReadSlot: true },
    schema: { querystring: ChangesQuery, response: { 200: ChangesPage, 410: GoneResponse, 503: ErrorResponse } }
  }, async (request, reply) => {
    const { after, limit, wait } = request.query
    const gone = async (prunedThrough: number): Promise<undefined> => {
      await reply.code(410).send({
        statusCode: 410,
        error: 'Gone',
        message: `entries up to cursor ${prunedThrough} were pruned: read the state from the API, then follow from after=${prunedThrough}`,
        oldest_cursor: prunedThrough
      })
      return undefined
    }
    /** The page after `after` as the database has it now, or undefined: answered already (410, 503). */
    const current = async (): Promise<Page | undefined> => {
      const { head, prunedThrough } = await repository.feedBounds()
      if (after < prunedThrough) return await gone(prunedThrough)
      feedTail.advance(head)
      // Nothing is after the head: a follower that has caught up (a long poll, mostly) costs no read.
      if (after >= head) return pageOf([], after)
      if (!await fastify.acquireRead(request, reply)) return undefined
      try {
        return await feedPages.get(after, limit, head, async () => {
          const entries = (await repository.feedEntryTexts(after, limit, maxBytes)).map(serialise)
          // Cursors have no gaps: a page that does not begin right after `after` lost entries to a prune
          // since the bounds were read (it raises pruned_through first, then deletes).
          if (entries.length > 0 && entries[0].cursor !== after + 1) throw new PrunedMeanwhile()
          // Entries up to the head read before are committed: a page that stops before it is complete.
          return { page: pageOf(entries, after), final: (entries.at(-1)?.cursor ?? head) < head }
        })
      } catch (err) {
        if (!(err instanceof PrunedMeanwhile)) throw err
        return await gone((await repository.feedBounds()).prunedThrough)
      }
    }
    let page = await current()
    if (page !== undefined && page.entries.length === 0 && wait > 0) {
      // Each waiter holds its connection and request: their number is bounded, not only their reads.
      if (feedTail.waiting >= longPollMax) {
        request.log.warn({ waiting: feedTail.waiting }, 'too many long polls at once: answering 503')
        return await reply.retryLater('too many long polls at once, retry later')
      }
      // The wait is over with nothing: the bounds once more, in case a notification was missed.
      page = await feedTail.wait(after, limit, wait * 1000) ?? await current()
    }
    if (page === undefined) return reply
    // The JSON is the ChangesPage the schema describes (for /docs), already serialised.
    return await reply.type('application/json; charset=utf-8').send(page.json as never)
  })
}

export default changesRoute
