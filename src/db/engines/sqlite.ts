import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { PrismaClient } from '../../generated/sqlite/client.js'
import { applyMigrations, readMigrations } from '../migrations/migrate.js'
import { withDriverAdapter } from './driver-adapter.js'
import { sqliteWriterAdapterFactory } from './sqlite-writer.js'
import { sqliteMigrationTarget } from '../migrations/sqlite-migration-target.js'

export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/sqlite/migrations', import.meta.url))

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'

export interface SqliteOptions {
  /** `file:<path>`; a relative path is taken from the working directory. */
  url: string
  busyTimeoutMs: number
  synchronous: SqliteSynchronous
}

/** SQLite's "unable to open database file" does not say which file: this error does. */
export class SqliteOpenError extends Error {
  override name = 'SqliteOpenError'
}

function openFile<T> (path: string, open: () => T): T {
  const named = (err: unknown): never => {
    throw new SqliteOpenError(`cannot open the SQLite database ${path} (DATABASE_URL): ${(err as Error).message}`, { cause: err })
  }
  try {
    const result = open()
    return (result instanceof Promise ? result.catch(named) : result) as T
  } catch (err) {
    return named(err)
  }
}

export function sqliteFilePath (url: string): string {
  return resolve(url.replace(/^file:/, ''))
}

/**
 * Applies pending migrations on a connection of its own, holding SQLite's write lock so that two processes
 * starting at once cannot both apply one. Also switches the file to WAL, which SQLite remembers.
 */
export async function migrateSqlite (options: SqliteOptions): Promise<string[]> {
  const path = sqliteFilePath(options.url)
  mkdirSync(dirname(path), { recursive: true })
  const db = openFile(path, () => new Database(path, { timeout: options.busyTimeoutMs }))
  try {
    db.pragma('journal_mode = WAL')
    db.exec('BEGIN IMMEDIATE')
    try {
      const applied = await applyMigrations(sqliteMigrationTarget(db), readMigrations(SQLITE_MIGRATIONS_DIR))
      db.exec('COMMIT')
      return applied
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
  } finally {
    db.close()
  }
}

/**
 * A Prisma client on the SQLite file, with the busy timeout and durability the configuration asks for: its
 * writes go through the writer thread (sqlite-writer.ts), whose connection commits at `synchronous`.
 */
export async function openSqliteClient (options: SqliteOptions): Promise<PrismaClient> {
  const path = sqliteFilePath(options.url)
  const factory = sqliteWriterAdapterFactory({ path, busyTimeoutMs: options.busyTimeoutMs, synchronous: options.synchronous })
  const prisma = withDriverAdapter(factory, factory => new PrismaClient({ adapter: factory }))
  await openFile(path, async () => { await prisma.$connect() })
  return prisma
}
