import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParams, PageQuery, SearchQuery } from '../../schemas/console.js'

const PAGE = 50

/** Tenants and users: search by id, name or e-mail; a page each, with memberships (paged), envs and roles. */
const entityRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { reads } = fastify.console
  const after = (value: string | undefined) => value === '' ? undefined : value

  fastify.get('/tenants', { schema: { querystring: SearchQuery } }, async (request, reply) => {
    const q = request.query.q ?? ''
    const page = await reads.searchTenants(q, PAGE, after(request.query.after))
    return await reply.page('search', { title: 'Tenants', nav: 'tenants', kind: 'tenants', q, ...page, first: after(request.query.after) !== undefined })
  })

  fastify.get('/tenants/:id', { schema: { params: IdParams, querystring: PageQuery } }, async (request, reply) => {
    const page = await reads.tenantPage(request.params.id, PAGE, after(request.query.after), fastify.now())
    if (page === undefined) return await reply.code(404).page('error', { title: 'Not found', message: `No tenant ${request.params.id} (never created, or deleted).` })
    return await reply.page('tenant', { title: `Tenant ${page.tenant.name ?? page.tenant.id}`, nav: 'tenants', ...page, first: after(request.query.after) !== undefined })
  })

  fastify.get('/users', { schema: { querystring: SearchQuery } }, async (request, reply) => {
    const q = request.query.q ?? ''
    const page = await reads.searchUsers(q, PAGE, after(request.query.after))
    return await reply.page('search', { title: 'Users', nav: 'users', kind: 'users', q, ...page, first: after(request.query.after) !== undefined })
  })

  fastify.get('/users/:id', { schema: { params: IdParams, querystring: PageQuery } }, async (request, reply) => {
    const page = await reads.userPage(request.params.id, PAGE, after(request.query.after))
    if (page === undefined) return await reply.code(404).page('error', { title: 'Not found', message: `No user ${request.params.id} (never created, or deleted).` })
    return await reply.page('user', { title: `User ${page.user.email ?? page.user.id}`, nav: 'users', ...page, first: after(request.query.after) !== undefined })
  })
}

export default entityRoutes
