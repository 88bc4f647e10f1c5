import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChangesPage, ChangesQuery, GoneResponse } from '../schemas/api.js'
import { pageStream, serialise } from '../feed/page.js'

/**
 * The change feed: entries after a cursor, in commit order, at most `limit` and PAGE_MAX_BYTES (the first
 * entry always: a follower never stalls). With `wait`, a request that finds nothing waits (long poll) for
 * the next commit, or answers an empty page when the wait is over. A cursor older than the oldest kept
 * entry answers 410. The page is sent from each entry's JSON (feed/page.ts), not serialised per request.
 */
const changesRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { repository, feedTail } = fastify
  const maxBytes = fastify.config.PAGE_MAX_BYTES
  fastify.get('/changes', { schema: { querystring: ChangesQuery, response: { 200: ChangesPage, 410: GoneResponse } } },
    async (request, reply) => {
      const { after, limit, wait } = request.query
      const { head, prunedThrough } = await repository.feedBounds()
      if (after < prunedThrough) {
        return await reply.code(410).send({
          statusCode: 410,
          error: 'Gone',
          message: `entries up to cursor ${prunedThrough} were pruned: read the state from the API, then follow from after=${prunedThrough}`,
          oldest_cursor: prunedThrough
        })
      }
      feedTail.advance(head)
      let entries = (await repository.feedEntries(after, limit, maxBytes)).map(serialise)
      if (entries.length === 0 && wait > 0) {
        // Waiting holds no read slot: 2,000 idle long polls must not keep other reads out.
        request.releaseRead!()
        entries = await feedTail.wait(after, limit, wait * 1000)
        // The wait is over: one last read, in case a notification was missed.
        if (entries.length === 0) entries = (await repository.feedEntries(after, limit, maxBytes)).map(serialise)
      }
      // The stream is the ChangesPage the schema describes (for /docs), already as JSON.
      return await reply.type('application/json; charset=utf-8').send(pageStream(entries, after) as never)
    })
}

export default changesRoute
