import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { receiveEvent } from '../services/receive-event.js'
import { ErrorResponse, EventsResponse } from '../schemas/api.js'

/**
 * POST /events: where the EventBridge API destination delivers one event, or a custom-bus subscriber a
 * JSON array of them. A batch always answers 200 with one result per item, in order, so that valid items
 * are not delivered again; a single invalid event answers 400. Invalid items are quarantined either way.
 */
const eventsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/events', {
    bodyLimit: fastify.config.BODY_LIMIT,
    schema: {
      // The body is checked item by item by parseEvent, which also decodes the nested JSON strings.
      response: { 200: EventsResponse, 400: ErrorResponse }
    }
  }, async (request, reply) => {
    const { body } = request
    if (Array.isArray(body)) {
      const results = []
      for (const item of body) results.push(await receiveEvent(fastify.repository, request.log, item))
      return { results }
    }
    const result = await receiveEvent(fastify.repository, request.log, body)
    if (result.outcome === 'rejected') {
      const { field, message } = result.error
      return await reply.code(400).send({ statusCode: 400, error: 'Bad Request', message, field })
    }
    return { results: [result] }
  })
}

export default eventsRoute
