import t from 'tap'
import { createHash } from 'node:crypto'
import { cpSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { applyMigrations, readMigrations } from '../src/db/migrations/migrate.js'
import { migrateSqlite, SQLITE_MIGRATIONS_DIR } from '../src/db/engines/sqlite.js'
import { sqliteMigrationTarget } from '../src/db/migrations/sqlite-migration-target.js'
import { migratePostgresql, POSTGRESQL_MIGRATIONS_DIR } from '../src/db/engines/postgresql.js'
import { postgresqlMigrationTarget } from '../src/db/migrations/postgresql-migration-target.js'
import { postgresqlTarget } from '../src/postgresql-url.js'
import { tempDir } from './helpers/app.js'
import { engineTest, pgClient, postgresql } from './helpers/engines.js'
import { generatorBlock, parsePrismaModels } from './helpers/prisma-schema.js'

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
      // An attribute value is kept as its JSON text: JSONB's NUMERIC affinity changed bare numbers (schema.prisma).
      const declared = model.table === 'attribute_values' && field.column === 'value' ? 'TEXT' : sqliteType[field.type]
      t.equal(column.type, declared, `${model.name}.${field.name} type`)
      t.equal(column.notnull === 1 || column.pk > 0, !field.optional, `${model.name}.${field.name} nullability`)
      t.equal(column.pk > 0, field.id, `${model.name}.${field.name} primary key`)
    }
  }
  const indexes = db.prepare('SELECT name FROM sqlite_master WHERE type = \'index\' AND tbl_name = \'events\' ORDER BY 1').all()
  t.same(indexes, ['events_event_type_received_at_idx', 'events_log_id_key', 'events_outcome_received_at_idx', 'events_received_at_idx',
    'events_tenant_id_received_at_idx', 'events_user_id_received_at_idx', 'sqlite_autoindex_events_1'].map(name => ({ name })), 'the events\' indexes')
})

const readSchema = (engine: 'sqlite' | 'postgresql') => readFileSync(new URL(`../prisma/${engine}/schema.prisma`, import.meta.url), 'utf8')

t.test('the SQLite and PostgreSQL schemas differ only in provider and native types', async t => {
  const [lite, pg] = [readSchema('sqlite'), readSchema('postgresql')]
  t.same(parsePrismaModels(pg).map(m => ({ ...m, fields: m.fields.map(({ nativeType, ...f }) => f) })), parsePrismaModels(lite), 'same models, fields, attributes and indexes')
  t.equal(generatorBlock(pg), generatorBlock(lite), 'same generator options')
  t.match(pg, /provider = "postgresql"/)
  t.notMatch(lite, /@db\./, 'no native types in the SQLite schema')
  t.match(readFileSync(join(POSTGRESQL_MIGRATIONS_DIR, 'migration_lock.toml'), 'utf8'), 'provider = "postgresql"')
  t.same(readMigrations(POSTGRESQL_MIGRATIONS_DIR).map(m => m.name), readMigrations(SQLITE_MIGRATIONS_DIR).map(m => m.name), 'one migration per engine for every change')
})

// PostgreSQL: each test on a fresh schema.

engineTest(t, 'pending migrations are applied once and recorded as Prisma records them', async (t, engine) => {
  const url = engine.databaseUrl(t)
  const names = readMigrations(POSTGRESQL_MIGRATIONS_DIR).map(m => m.name)
  t.same(await migratePostgresql({ url }), names, 'a new schema (created here) gets every migration')
  t.same(await migratePostgresql({ url }), [], 'the second start applies nothing')

  const db = await pgClient(t, url)
  const { rows: columns } = await db.query(`SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = $1 AND table_name = '_prisma_migrations' ORDER BY ordinal_position`, [postgresqlTarget(url).schema])
  t.same(columns.map(c => [c.column_name, c.data_type, c.character_maximum_length, c.is_nullable]), [
    ['id', 'character varying', 36, 'NO'], ['checksum', 'character varying', 64, 'NO'], ['finished_at', 'timestamp with time zone', null, 'YES'],
    ['migration_name', 'character varying', 255, 'NO'], ['logs', 'text', null, 'YES'], ['rolled_back_at', 'timestamp with time zone', null, 'YES'],
    ['started_at', 'timestamp with time zone', null, 'NO'], ['applied_steps_count', 'integer', null, 'NO']
  ], "Prisma's column order and types")
  t.same(columns.map(c => c.column_default), [null, null, null, null, null, null, 'now()', '0'])
  const { rows } = await db.query('SELECT * FROM "_prisma_migrations" ORDER BY migration_name')
  t.equal(rows.length, names.length)
  t.match(rows[0], {
    id: /^[0-9a-f-]{36}$/,
    checksum: createHash('sha256').update(readFileSync(join(POSTGRESQL_MIGRATIONS_DIR, names[0], 'migration.sql'))).digest('hex'),
    finished_at: Date,
    migration_name: names[0],
    logs: null,
    rolled_back_at: null,
    started_at: Date,
    applied_steps_count: 1
  })
  t.ok(rows[0].finished_at >= rows[0].started_at)
}, [postgresql])

engineTest(t, 'replicas starting at once: each migration is applied and recorded once', async (t, engine) => {
  const url = engine.databaseUrl(t)
  const names = readMigrations(POSTGRESQL_MIGRATIONS_DIR).map(m => m.name)
  const results = await Promise.all(Array.from({ length: 6 }, async () => await migratePostgresql({ url })))
  t.same(results.flat().sort(), names, 'every migration applied by exactly one applier')
  const { rows } = await (await pgClient(t, url)).query('SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1')
  t.same(rows, names.map(name => ({ migration_name: name, n: 1 })))
}, [postgresql])

engineTest(t, 'an edited migration is reported; a failed one is all or nothing', async (t, engine) => {
  const url = engine.databaseUrl(t)
  const migrations = join(tempDir(t), 'migrations')
  cpSync(POSTGRESQL_MIGRATIONS_DIR, migrations, { recursive: true })
  const db = await pgClient(t, url)
  await db.query(`CREATE SCHEMA "${postgresqlTarget(url).schema}"`)
  const target = postgresqlMigrationTarget(db)
  await applyMigrations(target, readMigrations(migrations))

  mkdirSync(join(migrations, '29990101000000_add_note'))
  writeFileSync(join(migrations, '29990101000000_add_note', 'migration.sql'), 'ALTER TABLE "tenants" ADD COLUMN "note" TEXT;\n')
  t.same(await applyMigrations(target, readMigrations(migrations)), ['29990101000000_add_note'])

  mkdirSync(join(migrations, '29990102000000_broken'))
  writeFileSync(join(migrations, '29990102000000_broken', 'migration.sql'), 'CREATE TABLE "x" (a TEXT);\nTHIS IS NOT SQL;\n')
  await t.rejects(applyMigrations(target, readMigrations(migrations)), /syntax error/)
  t.same((await db.query('SELECT to_regclass(\'x\') AS x')).rows, [{ x: null }], 'all or nothing')
  t.same((await db.query('SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name = \'29990102000000_broken\'')).rows, [{ n: 0 }])

  const [first] = readMigrations(migrations)
  writeFileSync(join(migrations, first.name, 'migration.sql'), first.sql + '\n-- edited\n')
  await t.rejects(applyMigrations(target, readMigrations(migrations)), { name: 'MigrationError', message: /was modified after it was applied/ })
}, [postgresql])

engineTest(t, 'schema.prisma and the migrated database agree on every model field', async (t, engine) => {
  const url = engine.databaseUrl(t)
  await migratePostgresql({ url })
  const db = await pgClient(t, url)
  const schema = postgresqlTarget(url).schema
  const models = parsePrismaModels(readSchema('postgresql'))
  t.ok(models.length >= 3)
  // Prisma's default PostgreSQL type per scalar, and the native types used in schema.prisma.
  const pgType: Record<string, string> = { String: 'text', Int: 'integer', Boolean: 'boolean', DateTime: 'timestamp(3) without time zone', Json: 'jsonb', BigInt: 'bigint', Float: 'double precision' }
  const nativeType: Record<string, string> = { 'Timestamptz(3)': 'timestamp(3) with time zone' }
  const { rows: columns } = await db.query(`SELECT c.table_name, c.column_name, c.is_nullable, c.collation_name, format_type(a.atttypid, a.atttypmod) AS type,
      EXISTS (SELECT 1 FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
        WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = c.column_name) AS pk
    FROM information_schema.columns c
    JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
    WHERE c.table_schema = $1`, [schema])
  for (const model of models) {
    const table = columns.filter(c => c.table_name === model.table)
    t.ok(table.length > 0, `table ${model.table} exists`)
    t.same(table.map(c => c.column_name).sort(), model.fields.map(f => f.column).sort(), `${model.name}: same columns`)
    for (const field of model.fields) {
      const column = table.find(c => c.column_name === field.column)
      if (column === undefined) continue
      t.equal(column.type, field.nativeType === undefined ? pgType[field.type] : nativeType[field.nativeType], `${model.name}.${field.name} type`)
      t.equal(column.is_nullable === 'NO', !field.optional, `${model.name}.${field.name} nullability`)
      t.equal(column.pk, field.id, `${model.name}.${field.name} primary key`)
      // Versions and ids are compared as text: byte order, whatever the server's default collation; so are the
      // tenant and user ids an event names, like the tenants' and users' own.
      const subject = model.table === 'events' && ['tenant_id', 'user_id'].includes(field.column)
      const compared = field.type === 'String' && (field.id || subject || field.column.endsWith('_v') || field.column === 'v' || /(^|_)version$/.test(field.column))
      t.equal(column.collation_name, compared ? 'C' : null, `${model.name}.${field.name} collation`)
    }
  }
  const { rows: indexes } = await db.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1', [schema])
  t.same(indexes.map(i => i.indexname), [
    '_prisma_migrations_pkey', 'attribute_values_pkey', 'attribute_values_user_id_idx', 'console_sessions_expires_at_idx',
    'console_sessions_pkey', 'envs_pkey', 'events_event_type_received_at_idx', 'events_log_id_key',
    'events_outcome_received_at_idx', 'events_pkey', 'events_received_at_idx', 'events_tenant_id_received_at_idx',
    'events_user_id_received_at_idx', 'feed_entries_cursor_size_idx', 'feed_entries_event_id_idx',
    'feed_entries_pkey', 'feed_entries_recorded_at_idx', 'feed_entries_tenant_idx', 'feed_entries_user_idx', 'feed_head_pkey',
    'quarantine_hash_key', 'quarantine_last_seen_at_idx', 'quarantine_pkey', 'reconcile_journal_pkey', 'reconcile_lease_pkey',
    'reconcile_runs_outcome_dry_run_ended_at_idx', 'reconcile_runs_pkey', 'reconcile_runs_started_at_idx', 'roles_pkey', 'tenant_plan_changes_pkey', 'tenant_user_envs_pkey',
    'tenant_user_envs_user_id_idx', 'tenant_user_roles_pkey',
    'tenant_user_roles_user_id_idx', 'tenant_users_pkey', 'tenant_users_user_id_idx', 'tenants_pkey', 'tenants_plan_due_at_idx', 'users_pkey',
    'version_floor_pkey'
  ])
}, [postgresql])
