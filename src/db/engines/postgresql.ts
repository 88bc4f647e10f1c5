import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/postgresql/client.js'
import { postgresqlDatabaseClient, type DatabaseClient } from './client.js'
import { applyMigrations, readMigrations } from '../migrations/migrate.js'
import { postgresqlMigrationTarget } from '../migrations/postgresql-migration-target.js'
import { postgresqlTarget } from '../../postgresql-url.js'
import { statementName, withDriverAdapter } from './driver-adapter.js'

export const POSTGRESQL_MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/postgresql/migrations', import.meta.url))

/** The key `prisma migrate` itself locks, so this applier and Prisma's never run at once on one database. */
export const MIGRATION_LOCK_KEY = 72707369

export interface PostgresqlOptions {
  /** `postgres://` or `postgresql://`; `?schema=<name>` selects (and creates) a schema other than `public`. */
  url: string
  poolMax: number
  statementTimeoutMs: number
  /** How long a request waits for a free pool connection (ms). */
  connectTimeoutMs: number
  /** Errors of idle pool connections (e.g. the server closed them); they are replaced on the next use. */
  onPoolError?: (err: Error) => void
}

/**
 * Applies pending migrations on a connection of its own, under Prisma's migration advisory lock: replicas
 * starting at once wait for each other, and each migration is applied (and recorded) once. Creates the
 * schema if it is missing.
 */
export async function migratePostgresql (options: Pick<PostgresqlOptions, 'url'>): Promise<string[]> {
  const { connectionString, schema } = postgresqlTarget(options.url)
  const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    // A session lock: closing the connection releases it, whatever happened.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    return await applyMigrations(postgresqlMigrationTarget(client), readMigrations(POSTGRESQL_MIGRATIONS_DIR))
  } finally {
    await client.end()
  }
}

/** A Prisma client over a pg pool: at most `poolMax` connections, each with the schema and statement time-out set. */
export function openPostgresqlClient (options: PostgresqlOptions): DatabaseClient {
  const { connectionString, schema } = postgresqlTarget(options.url)
  const adapter = new PrismaPg({
    connectionString,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    options: `-c search_path=${schema} -c statement_timeout=${options.statementTimeoutMs}`
  }, { schema, onPoolError: options.onPoolError, statementNameGenerator: statementName as (query: Parameters<typeof statementName>[0]) => string })
  return postgresqlDatabaseClient(withDriverAdapter(adapter, factory => new PrismaClient({ adapter: factory })))
}
