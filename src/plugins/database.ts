import fp from 'fastify-plugin'
import { Repository } from '../db/repository.js'
import { migrateDatabase, openDatabase } from '../db/engine.js'

declare module 'fastify' {
  interface FastifyInstance {
    repository: Repository
  }
}

/** Applies pending migrations, then opens the database (SQLite or PostgreSQL) the rest of the app writes through. */
export default fp(async (fastify) => {
  const { config } = fastify
  const applied = await migrateDatabase(config)
  if (applied.length > 0) fastify.log.info({ migrations: applied }, 'applied database migrations')

  const { prisma, dialect } = await openDatabase(config, err => { fastify.log.warn({ err }, 'idle database connection failed; it will be replaced') })
  const repository = new Repository(prisma, dialect, {
    maxWaitMs: config.TRANSACTION_MAX_WAIT_MS,
    timeoutMs: config.TRANSACTION_TIMEOUT_MS,
    retries: config.DB_RETRY_ATTEMPTS,
    onRetry: (err, retry) => { fastify.log.warn({ err, retry }, 'transient database error: retrying the transaction') }
  })
  fastify.decorate('repository', repository)
  fastify.addHook('onClose', async () => { await repository.close() })
}, { name: 'database', dependencies: ['config'] })
