import type { FastifyPluginAsync } from 'fastify'

/** GET /docs and /docs/json: the OpenAPI document (JSON). It describes the API only, so it needs no key. */
const docsRoutes: FastifyPluginAsync = async (fastify) => {
  const handler = async (): Promise<unknown> => fastify.swagger()
  fastify.get('/docs', { schema: { hide: true } }, handler)
  fastify.get('/docs/json', { schema: { hide: true } }, handler)
}

export default docsRoutes
