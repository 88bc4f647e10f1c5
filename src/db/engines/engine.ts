import type { Config } from '../../config.js'
import type { DatabaseClient } from './client.js'
import { postgresqlDialect, sqliteDialect, type Dialect } from './dialect.js'
import { migrateSqlite, openSqliteClient } from './sqlite.js'

// The engine is chosen by DATABASE_URL: `file:` is SQLite, `postgres://` or `postgresql://` is PostgreSQL.
// PostgreSQL's client, adapter and driver are loaded only when used (about 10 MB less for SQLite).

export type EngineName = 'sqlite' | 'postgresql'

export function engineOf (url: string): EngineName {
  return url.startsWith('file:') ? 'sqlite' : 'postgresql'
}

type DatabaseConfig = Pick<Config, 'DATABASE_URL' | 'SQLITE_BUSY_TIMEOUT_MS' | 'SQLITE_SYNCHRONOUS' | 'PG_POOL_MAX' | 'PG_STATEMENT_TIMEOUT_MS' | 'TRANSACTION_MAX_WAIT_MS'>

const sqliteOptions = (config: DatabaseConfig) => ({
  url: config.DATABASE_URL,
  busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
  synchronous: config.SQLITE_SYNCHRONOUS
})

/** Applies pending migrations to the configured database; returns the names applied. */
export async function migrateDatabase (config: DatabaseConfig): Promise<string[]> {
  return engineOf(config.DATABASE_URL) === 'sqlite'
    ? await migrateSqlite(sqliteOptions(config))
    : await (await import('./postgresql.js')).migratePostgresql({ url: config.DATABASE_URL })
}

/** A Prisma client on the configured database, and the dialect its statements need. */
export async function openDatabase (config: DatabaseConfig, onPoolError?: (err: Error) => void): Promise<{ prisma: DatabaseClient, dialect: Dialect }> {
  if (engineOf(config.DATABASE_URL) === 'sqlite') {
    return { prisma: await openSqliteClient(sqliteOptions(config)), dialect: sqliteDialect }
  }
  const { openPostgresqlClient } = await import('./postgresql.js')
  const prisma = openPostgresqlClient({
    url: config.DATABASE_URL,
    poolMax: config.PG_POOL_MAX,
    statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: config.TRANSACTION_MAX_WAIT_MS,
    onPoolError
  })
  return { prisma, dialect: postgresqlDialect }
}
