import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CsrfBody, QuarantineParams, QuarantineQuery } from '../../schemas/console.js'
import { replayQuarantined, describeReplay } from '../../console/replay.js'
import { CSRF_REFUSED } from '../../console/sessions.js'

const PAGE = 50

const quarantineRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { quarantine, auth } = fastify.console
  const notFound = (id: number) => ({ title: 'Not found', message: `No quarantine item ${id} (replayed, pruned, or never kept).` })

  fastify.get('/quarantine', { schema: { querystring: QuarantineQuery } }, async (request, reply) => {
    const [page, size] = await Promise.all([quarantine.list(PAGE, request.query.before), fastify.repository.quarantineSize()])
    return await reply.page('quarantine', { title: 'Quarantine', nav: 'quarantine', ...page, size, first: request.query.before !== undefined })
  })

  fastify.get('/quarantine/:id', { schema: { params: QuarantineParams } }, async (request, reply) => {
    const item = await quarantine.item(request.params.id)
    if (item === undefined) return await reply.code(404).page('error', notFound(request.params.id))
    return await reply.page('quarantine-item', { title: `Quarantine item ${item.id}`, nav: 'quarantine', item })
  })

  // Replay: today's validation decides; what passes is recorded like a delivery and leaves the quarantine.
  fastify.post('/quarantine/:id/replay', { schema: { params: QuarantineParams, body: CsrfBody } }, async (request, reply) => {
    if (!auth.csrfValid(request.consoleToken!, request.body.csrf)) return await reply.code(403).page('error', CSRF_REFUSED)
    const { MAX_FUTURE_SKEW_MS, BODY_LIMIT } = fastify.config
    const result = await replayQuarantined({
      repository: fastify.repository,
      quarantine,
      log: request.log,
      clock: () => ({ now: Date.now(), maxFutureSkewMs: MAX_FUTURE_SKEW_MS }),
      bodyLimit: BODY_LIMIT,
      eventReceived: (type, outcome) => { fastify.metrics.eventReceived(type, outcome) }
    }, request.params.id)
    if (result.result === 'not_found') return await reply.code(404).page('error', notFound(request.params.id))
    return await reply.page('replayed', { title: `Replay of quarantine item ${result.id}`, nav: 'quarantine', result, message: describeReplay(result) })
  })
}

export default quarantineRoutes
