import t from 'tap'
import { createHash } from 'node:crypto'
import { cpSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { applyMigrations, readMigrations } from '../src/db/migrate.js'
import { migrateSqlite, SQLITE_MIGRATIONS_DIR } from '../src/db/sqlite.js'
import { sqliteMigrationTarget } from '../src/db/sqlite-migration-target.js'
import { tempDir } from './helpers/app.js'
import { parsePrismaModels } from './helpers/prisma-schema.js'

const options = (file: string) => ({ url: `file:${file}`, busyTimeoutMs: 1000, synchronous: 'FULL' as const })

t.test('pending migrations are applied once and recorded as Prisma records them', async t => {
  const file = join(tempDir(t), 'nested', 'dir', 'db.sqlite')
  const names = readMigrations(SQLITE_MIGRATIONS_DIR).map(m => m.name)
  t.same(await migrateSqlite(options(file)), names, 'a new database gets every migration (and its directory)')
  t.same(await migrateSqlite(options(file)), [], 'the second start applies nothing')

  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const columns = db.prepare('PRAGMA table_info("_prisma_migrations")').all() as Array<{ name: string, type: string }>
  t.same(columns.map(c => [c.name, c.type]), [
    ['id', 'TEXT'], ['checksum', 'TEXT'], ['finished_at', 'DATETIME'], ['migration_name', 'TEXT'], ['logs', 'TEXT'],
    ['rolled_back_at', 'DATETIME'], ['started_at', 'DATETIME'], ['applied_steps_count', 'INTEGER UNSIGNED']
  ], "Prisma's column order and types")
  const rows = db.prepare('SELECT * FROM "_prisma_migrations" ORDER BY migration_name').all() as Array<Record<string, unknown>>
  t.equal(rows.length, names.length)
  const sql = readFileSync(join(SQLITE_MIGRATIONS_DIR, names[0], 'migration.sql'))
  t.match(rows[0], {
    id: /^[0-9a-f-]{36}$/,
    checksum: createHash('sha256').update(sql).digest('hex'),
    finished_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/,
    migration_name: names[0],
    logs: null,
    rolled_back_at: null,
    started_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/,
    applied_steps_count: 1
  })
})

t.test('a migration edited after it was applied is reported, not re-run', async t => {
  const dir = tempDir(t)
  const migrations = join(dir, 'migrations')
  cpSync(SQLITE_MIGRATIONS_DIR, migrations, { recursive: true })
  const db = new Database(join(dir, 'db.sqlite'))
  t.teardown(() => db.close())
  const target = sqliteMigrationTarget(db)
  await applyMigrations(target, readMigrations(migrations))

  const [first] = readMigrations(migrations)
  writeFileSync(join(migrations, first.name, 'migration.sql'), first.sql + '\n-- edited\n')
  await t.rejects(applyMigrations(target, readMigrations(migrations)), { name: 'MigrationError', message: /was modified after it was applied/ })
})

t.test('a new migration is applied after the old ones; a failed one stops the start', async t => {
  const dir = tempDir(t)
  const migrations = join(dir, 'migrations')
  cpSync(SQLITE_MIGRATIONS_DIR, migrations, { recursive: true })
  const db = new Database(join(dir, 'db.sqlite'))
  t.teardown(() => db.close())
  const target = sqliteMigrationTarget(db)
  await applyMigrations(target, readMigrations(migrations))

  mkdirSync(join(migrations, '29990101000000_add_note'))
  writeFileSync(join(migrations, '29990101000000_add_note', 'migration.sql'), 'ALTER TABLE "tenants" ADD COLUMN "note" TEXT;\n')
  t.same(await applyMigrations(target, readMigrations(migrations)), ['29990101000000_add_note'])

  mkdirSync(join(migrations, '29990102000000_broken'))
  writeFileSync(join(migrations, '29990102000000_broken', 'migration.sql'), 'CREATE TABLE "x" (a);\nTHIS IS NOT SQL;\n')
  await t.rejects(applyMigrations(target, readMigrations(migrations)), /syntax error/)
  t.same(db.prepare('SELECT count(*) AS n FROM sqlite_master WHERE name = \'x\'').get(), { n: 0 }, 'all or nothing')
  t.same(db.prepare('SELECT count(*) AS n FROM "_prisma_migrations" WHERE migration_name = \'29990102000000_broken\'').get(), { n: 0 })

  // A row Prisma left unfinished (a crash mid-migration) must be resolved by a person.
  db.prepare(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
    VALUES ('00000000-0000-0000-0000-000000000000', 'x', '29990102000000_broken', '2026-01-01T00:00:00.000+00:00', 0)`).run()
  await t.rejects(applyMigrations(target, readMigrations(migrations)), { name: 'MigrationError', message: /failed earlier/ })
})

t.test('schema.prisma and the migrated database agree on every model field', async t => {
  const file = join(tempDir(t), 'db.sqlite')
  await migrateSqlite(options(file))
  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  const models = parsePrismaModels(readFileSync(new URL('../prisma/sqlite/schema.prisma', import.meta.url), 'utf8'))
  t.ok(models.length >= 3)
  const sqliteType: Record<string, string> = { String: 'TEXT', Int: 'INTEGER', Boolean: 'BOOLEAN', DateTime: 'DATETIME', Json: 'JSONB', BigInt: 'BIGINT', Float: 'REAL' }
  for (const model of models) {
    const columns = db.prepare(`PRAGMA table_info("${model.table}")`).all() as Array<{ name: string, type: string, notnull: number, pk: number }>
    t.ok(columns.length > 0, `table ${model.table} exists`)
    t.same(columns.map(c => c.name).sort(), model.fields.map(f => f.column).sort(), `${model.name}: same columns`)
    for (const field of model.fields) {
      const column = columns.find(c => c.name === field.column)
      if (column === undefined) continue
      t.equal(column.type, sqliteType[field.type], `${model.name}.${field.name} type`)
      t.equal(column.notnull === 1 || column.pk > 0, !field.optional, `${model.name}.${field.name} nullability`)
      t.equal(column.pk > 0, field.id, `${model.name}.${field.name} primary key`)
    }
  }
})
