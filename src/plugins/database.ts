import fp from 'fastify-plugin'
import { Repository } from '../db/repository.js'
import { sqliteDialect } from '../db/dialect.js'
import { migrateSqlite, openSqliteClient } from '../db/sqlite.js'

declare module 'fastify' {
  interface FastifyInstance {
    repository: Repository
  }
}

/** Applies pending migrations, then opens the database the rest of the app writes through. */
export default fp(async (fastify) => {
  const { config } = fastify
  const sqlite = {
    url: config.DATABASE_URL,
    busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
    synchronous: config.SQLITE_SYNCHRONOUS
  }
  const applied = await migrateSqlite(sqlite)
  if (applied.length > 0) fastify.log.info({ migrations: applied }, 'applied database migrations')

  const prisma = await openSqliteClient(sqlite)
  const repository = new Repository(prisma, sqliteDialect, {
    maxWaitMs: config.TRANSACTION_MAX_WAIT_MS,
    timeoutMs: config.TRANSACTION_TIMEOUT_MS
  })
  fastify.decorate('repository', repository)
  fastify.addHook('onClose', async () => { await repository.close() })
}, { name: 'database', dependencies: ['config'] })
