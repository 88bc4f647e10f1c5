import fp from 'fastify-plugin'
import type { Repository } from '../db/repository.js'
import { openRepository } from '../db/open.js'

declare module 'fastify' {
  interface FastifyInstance {
    repository: Repository
  }
}

/** Applies pending migrations, then opens the database (SQLite or PostgreSQL) the rest of the app writes through. */
export default fp(async (fastify) => {
  const { repository, applied } = await openRepository(fastify.config, {
    onPoolError: err => { fastify.log.warn({ err }, 'idle database connection failed; it will be replaced') },
    onRetry: (err, retry) => { fastify.log.warn({ err, retry }, 'transient database error: retrying the transaction') }
  })
  if (applied.length > 0) fastify.log.info({ migrations: applied }, 'applied database migrations')
  fastify.decorate('repository', repository)
  fastify.addHook('onClose', async () => { await repository.close() })
}, { name: 'database', dependencies: ['config'] })
