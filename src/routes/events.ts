import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseEvent } from '../events/parse.js'
import { ErrorResponse, EventsResponse } from '../schemas/api.js'
import { Envelope } from '../schemas/envelope.js'

/** POST /events: where the EventBridge API destination delivers. */
const eventsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/events', {
    bodyLimit: fastify.config.BODY_LIMIT,
    schema: {
      // The body is checked by decodeEvent, which also decodes the nested JSON strings; see src/schemas/envelope.ts.
      // Envelope documents the body for /docs only: this route accepts any JSON value here.
      body: Envelope,
      response: { 200: EventsResponse, 400: ErrorResponse }
    },
    validatorCompiler: () => () => true
  }, async (request, reply) => {
    const started = performance.now()
    const parsed = parseEvent(request.body)
    if (!parsed.ok) {
      const { field, message } = parsed.problem
      request.log.info({ field, reason: message }, 'rejected: invalid event')
      fastify.metrics.eventReceived((request.body as { detail?: { event_type?: unknown } } | null)?.detail?.event_type, 'invalid')
      return await reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `body${field} ${message}`, field })
    }
    const { event, plan } = parsed
    const outcome = await fastify.withinDeadline(reply, fastify.repository.record(event, plan))
    fastify.metrics.eventReceived(event.eventType, outcome)
    request.log.info({
      event: { id: event.id, type: event.eventType, outcome },
      durationMs: Math.round((performance.now() - started) * 100) / 100
    }, 'event recorded')
    return { results: [{ id: event.id, outcome }] }
  })
}

export default eventsRoute
