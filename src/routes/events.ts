import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { receiveBatch, receiveEvent, type Receiver } from '../services/receive-event.js'
import { ErrorResponse, EventsResponse } from '../schemas/api.js'
import { Envelope } from '../schemas/envelope.js'

/**
 * POST /events: where the EventBridge API destination delivers one event, or a custom-bus subscriber a
 * JSON array of them. A batch answers 200 with one result per item, in order, so that valid items are not
 * delivered again; a single invalid event answers 400. Invalid items are quarantined either way. A batch
 * longer than BATCH_MAX_ITEMS is refused whole (413) before any item is looked at.
 */
const eventsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { BATCH_MAX_ITEMS, BATCH_MAX_EVENTS, REQUEST_DEADLINE_MS, MAX_FUTURE_SKEW_MS } = fastify.config
  fastify.post('/events', {
    bodyLimit: fastify.config.BODY_LIMIT,
    schema: {
      // For /docs only: this route accepts any JSON value here and checks each item with parseEvent, which
      // also decodes the nested JSON strings and names the field at fault.
      body: Type.Union([Envelope, Type.Array(Envelope, { maxItems: BATCH_MAX_ITEMS })]),
      response: { 200: EventsResponse, 400: ErrorResponse, 413: ErrorResponse }
    },
    validatorCompiler: () => () => true
  }, async (request, reply) => {
    const receiver: Receiver = {
      repository: fastify.repository,
      log: request.log,
      metrics: fastify.metrics,
      withinDeadline: async work => await fastify.withinDeadline(reply, work),
      remainingMs: () => REQUEST_DEADLINE_MS - reply.elapsedTime,
      clock: () => ({ now: Date.now(), maxFutureSkewMs: MAX_FUTURE_SKEW_MS })
    }
    const { body } = request
    if (Array.isArray(body)) {
      // Longer than BATCH_MAX_ITEMS was refused by the body parser (plugins/json-body.ts) with 413.
      // Chunks of a group-commit batch: valid events of a chunk share a transaction, invalid ones too.
      return { results: await receiveBatch(receiver, body, BATCH_MAX_EVENTS) }
    }
    const result = await receiveEvent(receiver, body)
    if (result.outcome === 'rejected') {
      const { field, message } = result.error
      return await reply.code(400).send({ statusCode: 400, error: 'Bad Request', message, field })
    }
    return { results: [result] }
  })
}

export default eventsRoute
