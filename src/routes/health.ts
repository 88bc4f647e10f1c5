import type { FastifyPluginAsync } from 'fastify'
import { readMigrations } from '../db/migrations/migrate.js'
import { SQLITE_MIGRATIONS_DIR } from '../db/engines/sqlite.js'

/**
 * Probes, without the API key. /healthz: the process answers (never refused for back-pressure, so that a
 * busy process is not restarted). /readyz: the database answers and every migration is applied; 503
 * otherwise. Neither says why: the reason goes to the log.
 */
const healthRoutes: FastifyPluginAsync = async (fastify) => {
  const expected = readMigrations(SQLITE_MIGRATIONS_DIR).map(m => m.name)

  fastify.get('/healthz', { schema: { hide: true }, config: { pressureHandler: () => undefined } },
    async () => ({ status: 'ok' }))

  fastify.get('/readyz', { schema: { hide: true } }, async (request, reply) => {
    try {
      await fastify.repository.ping()
      const applied = new Set(await fastify.repository.appliedMigrations())
      const pending = expected.filter(name => !applied.has(name))
      if (pending.length === 0) return { status: 'ready' }
      request.log.warn({ pending }, 'not ready: migrations pending')
    } catch (err) {
      request.log.warn({ err }, 'not ready: database check failed')
    }
    return await reply.retryLater('not ready')
  })
}

export default healthRoutes
