import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Repository } from '../db/repository.js'
import { openRepository, type OpenHooks } from '../db/open.js'

declare module 'fastify' {
  interface FastifyInstance {
    repository: Repository
  }
}

/** What the database layer reports while it works, as log lines. */
export function databaseLogHooks (log: FastifyBaseLogger): Required<Pick<OpenHooks, 'onPoolError' | 'onRetry' | 'onCheckpointError'>> {
  return {
    onPoolError: err => { log.warn({ err }, 'idle database connection failed; it will be replaced') },
    onRetry: (err, retry) => { log.warn({ err, retry }, 'transient database error: retrying the transaction') },
    onCheckpointError: err => { log.warn({ err }, 'WAL checkpoint failed; SQLite will checkpoint on its own') }
  }
}

/** Applies pending migrations, then opens the database (SQLite or PostgreSQL) the rest of the app writes through. */
export default fp(async (fastify) => {
  const { repository, applied } = await openRepository(fastify.config, databaseLogHooks(fastify.log))
  if (applied.length > 0) fastify.log.info({ migrations: applied }, 'applied database migrations')
  fastify.decorate('repository', repository)
  fastify.addHook('onClose', async () => { await repository.close() })
}, { name: 'database', dependencies: ['config'] })
