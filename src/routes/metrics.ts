import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * GET /metrics in Prometheus text format. With METRICS_TOKEN set it needs `Authorization: Bearer <token>`
 * (compared in constant time); without it, it is open, for a scraper on a private network.
 */
const metricsRoute: FastifyPluginAsync = async (fastify) => {
  const token = fastify.config.METRICS_TOKEN
  const expected = digest(`Bearer ${token}`)

  fastify.get('/metrics', {
    schema: { hide: true },
    // The numbers matter most when the process is under pressure.
    config: { pressureHandler: () => undefined },
    onRequest: async (request, reply) => {
      if (token === '') return
      const presented = request.headers.authorization
      if (typeof presented === 'string' && timingSafeEqual(digest(presented), expected)) return
      fastify.logAuthFailure(request, 'metrics token')
      return await reply.code(401).header('www-authenticate', 'Bearer')
        .send({ statusCode: 401, error: 'Unauthorized', message: 'missing or invalid metrics token' })
    }
  }, async (_request, reply) => {
    const { registry } = fastify.metrics
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}

export default metricsRoute
