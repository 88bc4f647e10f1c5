import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EventsQuery, IdParams } from '../../schemas/console.js'
import { decodeCursor, encodeCursor, eventFilter } from '../../console/event-filter.js'
import { OPERATION_NAMES } from '../../events/operations.js'

/** The outcomes an event is stored with (a duplicate is not stored). */
const STORED_OUTCOMES = ['applied', 'stale', 'ignored']

const PAGE = 50
/** Rows an event page lists of what the event wrote (an event writes a handful; a batch of roles more). */
const WRITES = 200

const eventRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { reads } = fastify.console

  fastify.get('/events', { schema: { querystring: EventsQuery } }, async (request, reply) => {
    const filter = eventFilter(request.query)
    const page = await reads.events(filter, PAGE, decodeCursor(request.query.after))
    const { after, ...filters } = request.query
    return await reply.page('events', {
      title: 'Events',
      nav: 'events',
      query: filters,
      // Suggestions only (a datalist): a type this version does not know is typed in.
      types: [...OPERATION_NAMES].sort(),
      outcomes: STORED_OUTCOMES,
      items: page.items,
      next: page.next === null ? null : encodeCursor(page.next),
      first: after !== undefined && after !== ''
    })
  })

  fastify.get('/events/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const event = await fastify.repository.event(request.params.id)
    if (event === undefined) return await reply.code(404).page('error', { title: 'Not found', message: `No event ${request.params.id} is recorded (never received, or pruned).` })
    const writes = await reads.eventWrites(event.id, WRITES)
    const stored = event.event as { detail?: { event?: unknown } }
    const { event: inner, ...detail } = stored.detail ?? {}
    return await reply.page('event', { title: `Event ${event.id}`, nav: 'events', event, envelope: { ...stored, detail }, inner, writes })
  })
}

export default eventRoutes
