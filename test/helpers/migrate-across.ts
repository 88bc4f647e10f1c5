import Database from 'better-sqlite3'
import { join } from 'node:path'
import { applyMigrations, readMigrations } from '../../src/db/migrations/migrate.js'
import { SQLITE_MIGRATIONS_DIR } from '../../src/db/engines/sqlite.js'
import { POSTGRESQL_MIGRATIONS_DIR } from '../../src/db/engines/postgresql.js'
import { sqliteMigrationTarget } from '../../src/db/migrations/sqlite-migration-target.js'
import { postgresqlMigrationTarget } from '../../src/db/migrations/postgresql-migration-target.js'
import { postgresqlTarget } from '../../src/postgresql-url.js'
import { pgClient, type Engine } from './engines.js'
import { tempDir, type Teardown } from './app.js'

/** SQL on a test database: statements run, and rows read (SQLite integers as bigint, PostgreSQL's BIGINT as text). */
export interface MigratedDatabase {
  exec: (sql: string) => Promise<void>
  rows: (sql: string) => Promise<unknown[]>
}

/**
 * A new database of `engine` migrated up to just before the migration `name`, `before` run there (the rows
 * an installation had), then migrated to the end: how a test checks that a migration keeps existing data.
 */
export async function migrateAcross (t: Teardown, engine: Engine, name: string, before: string): Promise<MigratedDatabase> {
  const all = readMigrations(engine.name === 'sqlite' ? SQLITE_MIGRATIONS_DIR : POSTGRESQL_MIGRATIONS_DIR)
  const at = all.findIndex(m => m.name === name)
  if (at <= 0) throw new Error(`no migration ${name} after the first`)
  if (engine.name === 'sqlite') {
    const db = new Database(join(tempDir(t), 'db.sqlite'))
    t.teardown(() => db.close())
    db.defaultSafeIntegers(true)
    await applyMigrations(sqliteMigrationTarget(db), all.slice(0, at))
    db.exec(before)
    await applyMigrations(sqliteMigrationTarget(db), all)
    return { exec: async sql => { db.exec(sql) }, rows: async sql => db.prepare(sql).all() }
  }
  const url = engine.databaseUrl(t)
  const db = await pgClient(t, url)
  await db.query(`CREATE SCHEMA "${postgresqlTarget(url).schema}"`)
  await applyMigrations(postgresqlMigrationTarget(db), all.slice(0, at))
  await db.query(before)
  await applyMigrations(postgresqlMigrationTarget(db), all)
  return { exec: async sql => { await db.query(sql) }, rows: async sql => (await db.query(sql)).rows }
}
