import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { receiveEvent, type Receiver } from '../services/receive-event.js'
import { ErrorResponse, EventsResponse } from '../schemas/api.js'
import { Envelope } from '../schemas/envelope.js'

/**
 * POST /events: where the EventBridge API destination delivers one event, or a custom-bus subscriber a
 * JSON array of them. A batch always answers 200 with one result per item, in order, so that valid items
 * are not delivered again; a single invalid event answers 400. Invalid items are quarantined either way.
 */
const eventsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/events', {
    bodyLimit: fastify.config.BODY_LIMIT,
    schema: {
      // For /docs only: this route accepts any JSON value here and checks each item with parseEvent, which
      // also decodes the nested JSON strings and names the field at fault.
      body: Type.Union([Envelope, Type.Array(Envelope)]),
      response: { 200: EventsResponse, 400: ErrorResponse }
    },
    validatorCompiler: () => () => true
  }, async (request, reply) => {
    const receiver: Receiver = {
      repository: fastify.repository,
      log: request.log,
      metrics: fastify.metrics,
      withinDeadline: async work => await fastify.withinDeadline(reply, work)
    }
    const { body } = request
    if (Array.isArray(body)) {
      // Submitted together, so that group commit writes them in one transaction.
      return { results: await Promise.all(body.map(async item => await receiveEvent(receiver, item))) }
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
