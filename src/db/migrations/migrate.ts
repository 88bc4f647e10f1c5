import { createHash, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

// Applies the SQL migrations kept in Prisma's layout (prisma/<engine>/migrations/<timestamp>_<name>/) and
// records them in `_prisma_migrations` exactly as `prisma migrate deploy` does, so that Prisma's own tools
// agree with what this service did on a machine that has Prisma's schema engine.

export interface Migration {
  name: string
  sql: string
  /** SHA-256 (hex) of the file's bytes, as Prisma computes it. */
  checksum: string
}

export interface AppliedMigration {
  id: string
  migration_name: string
  checksum: string
  finished_at: unknown
}

/** What the applier needs from a database: one implementation per engine. */
export interface MigrationTarget {
  /** Creates `_prisma_migrations` if it is missing (Prisma's own DDL for the engine). */
  ensureHistoryTable: () => Promise<void>
  applied: () => Promise<AppliedMigration[]>
  /** Runs one migration's script and records it, all or nothing. */
  apply: (migration: Migration, id: string) => Promise<void>
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

export function readMigrations (dir: string): Migration[] {
  return readdirSync(dir)
    .filter(name => statSync(join(dir, name)).isDirectory())
    .sort()
    .map(name => {
      const bytes = readFileSync(join(dir, name, 'migration.sql'))
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') }
    })
}

/** Applies every pending migration in name order; returns the names it applied. */
export async function applyMigrations (target: MigrationTarget, migrations: Migration[]): Promise<string[]> {
  await target.ensureHistoryTable()
  const history = await target.applied()
  const done: string[] = []
  for (const migration of migrations) {
    const recorded = history.filter(row => row.migration_name === migration.name)
    const finished = recorded.find(row => row.finished_at !== null)
    if (finished !== undefined) {
      if (finished.checksum !== migration.checksum) {
        throw new MigrationError(`migration ${migration.name} was modified after it was applied (checksum differs); restore the file or add a new migration`)
      }
      continue
    }
    if (recorded.length > 0) {
      throw new MigrationError(`migration ${migration.name} failed earlier and is not rolled back; repair the database and mark it with \`prisma migrate resolve\``)
    }
    await target.apply(migration, randomUUID())
    done.push(migration.name)
  }
  return done
}
