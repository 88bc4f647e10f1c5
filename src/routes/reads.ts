import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ErrorResponse, EventRecordResponse, IdParams, ListQuery, TenantPage, TenantResponse, UserPage, UserResponse
} from '../schemas/api.js'

const notFound = (what: string, id: string) =>
  ({ statusCode: 404, error: 'Not Found', message: `no ${what} ${id}` })

/**
 * The projected state and the inbox, read back. Deleted rows answer 404 and are not listed. A list's page
 * holds at most `limit` items and stops before PAGE_MAX_BYTES (but always holds one): next_cursor resumes.
 */
const readRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/tenants', { schema: { querystring: ListQuery, response: { 200: TenantPage } } },
    async request => await fastify.repository.tenants(request.query.cursor, request.query.limit, fastify.config.PAGE_MAX_BYTES, fastify.now()))

  fastify.get('/tenants/:id', { schema: { params: IdParams, response: { 200: TenantResponse, 404: ErrorResponse } } },
    async (request, reply) => {
      const tenant = await fastify.repository.tenant(request.params.id, fastify.now())
      return tenant ?? await reply.code(404).send(notFound('tenant', request.params.id))
    })

  fastify.get('/users', { schema: { querystring: ListQuery, response: { 200: UserPage } } },
    async request => await fastify.repository.users(request.query.cursor, request.query.limit, fastify.config.PAGE_MAX_BYTES))

  fastify.get('/users/:id', { schema: { params: IdParams, response: { 200: UserResponse, 404: ErrorResponse } } },
    async (request, reply) => {
      const user = await fastify.repository.user(request.params.id)
      return user ?? await reply.code(404).send(notFound('user', request.params.id))
    })

  fastify.get('/events/:id', { schema: { params: IdParams, response: { 200: EventRecordResponse, 404: ErrorResponse } } },
    async (request, reply) => {
      const event = await fastify.repository.event(request.params.id)
      return event ?? await reply.code(404).send(notFound('event', request.params.id))
    })
}

export default readRoutes
