import type { Config } from '../config.js'
import { Repository } from './repository.js'
import { sqliteDialect } from './dialect.js'
import { migrateSqlite, openSqliteClient, type SqliteOptions } from './sqlite.js'

export interface Opened {
  repository: Repository
  /** Migrations this start applied. */
  applied: string[]
}

const sqliteOptions = (config: Config): SqliteOptions => ({
  url: config.DATABASE_URL,
  busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
  synchronous: config.SQLITE_SYNCHRONOUS
})

/** Applies pending migrations to the configured database. */
export async function migrate (config: Config): Promise<string[]> {
  return await migrateSqlite(sqliteOptions(config))
}

/** Migrates, then opens the repository the service and the maintenance scripts work through. */
export async function openRepository (config: Config): Promise<Opened> {
  const applied = await migrate(config)
  const prisma = await openSqliteClient(sqliteOptions(config))
  const repository = new Repository(prisma, sqliteDialect, {
    maxWaitMs: config.TRANSACTION_MAX_WAIT_MS,
    timeoutMs: config.TRANSACTION_TIMEOUT_MS,
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    batchMaxWaitMs: config.BATCH_MAX_WAIT_MS
  })
  return { repository, applied }
}
