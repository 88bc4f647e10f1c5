import type Database from 'better-sqlite3'
import type { AppliedMigration, Migration, MigrationTarget } from './migrate.js'

// Prisma's own DDL for its history table on SQLite.
const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`

/** Prisma writes SQLite timestamps as RFC 3339 with milliseconds and an explicit UTC offset. */
const prismaTimestamp = (date: Date): string => date.toISOString().replace('Z', '+00:00')

/** Migrations on one better-sqlite3 connection; the caller holds it exclusively while they run. */
export function sqliteMigrationTarget (db: Database.Database): MigrationTarget {
  return {
    async ensureHistoryTable () {
      db.exec(HISTORY_TABLE)
    },
    async applied () {
      return db.prepare('SELECT id, migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL')
        .all() as AppliedMigration[]
    },
    async apply (migration: Migration, id: string) {
      const startedAt = prismaTimestamp(new Date())
      db.transaction(() => {
        db.exec(migration.sql)
        db.prepare(`INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
          VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`)
          .run(id, migration.checksum, prismaTimestamp(new Date()), migration.name, startedAt)
      }).immediate()
    }
  }
}
