import type pg from 'pg'
import type { AppliedMigration, Migration, MigrationTarget } from './migrate.js'

// Prisma's own DDL for its history table on PostgreSQL.
const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

/**
 * Migrations on one pg connection whose search_path is the target schema. Each migration runs in a
 * transaction of its own (PostgreSQL DDL is transactional), together with its history row. The caller
 * serialises appliers (see migratePostgresql).
 */
export function postgresqlMigrationTarget (client: pg.ClientBase): MigrationTarget {
  return {
    async ensureHistoryTable () {
      await client.query(HISTORY_TABLE)
    },
    async applied () {
      const { rows } = await client.query<AppliedMigration>(
        'SELECT id, migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL')
      return rows
    },
    async apply (migration: Migration, id: string) {
      const startedAt = new Date()
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query(`INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
          VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`, [id, migration.checksum, migration.name, startedAt])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK')
        throw err
      }
    }
  }
}
