import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import { ChangesPage, ChangesQuery, GoneResponse } from '../schemas/api.js'

/**
 * The change feed: entries after a cursor, in commit order. With `wait`, a request that finds nothing
 * waits (long poll) for the next commit, or answers an empty page when the wait is over. A cursor older
 * than the oldest kept entry answers 410.
 */
const changesRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { repository, feedTail } = fastify
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
      let entries = await repository.feedEntries(after, limit)
      if (entries.length === 0 && wait > 0) {
        entries = await feedTail.wait(after, limit, wait * 1000)
        // The wait is over: one last read, in case a notification was missed.
        if (entries.length === 0) entries = await repository.feedEntries(after, limit)
      }
      return { entries, next_after: entries.at(-1)?.cursor ?? after } satisfies Static<typeof ChangesPage>
    })
}

export default changesRoute
