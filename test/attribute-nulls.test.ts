import t from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { applyMigrations, readMigrations } from '../src/db/migrations/migrate.js'
import { SQLITE_MIGRATIONS_DIR } from '../src/db/engines/sqlite.js'
import { POSTGRESQL_MIGRATIONS_DIR } from '../src/db/engines/postgresql.js'
import { sqliteMigrationTarget } from '../src/db/migrations/sqlite-migration-target.js'
import { postgresqlMigrationTarget } from '../src/db/migrations/postgresql-migration-target.js'
import { postgresqlTarget } from '../src/db/engines/postgresql-url.js'
import { engineTest, pgClient } from './helpers/engines.js'
import { buildApp, deliver, getJson, tempDir } from './helpers/app.js'
import { events } from './helpers/events.js'
import { SAASUS, saasus, startSaasus } from './helpers/saasus.js'
import { ReconcileStore } from '../src/db/reconcile-store.js'
import { Reconciler } from '../src/reconcile/reconciler.js'
import { SaasusClient } from '../src/saasus/client.js'

// SaaSus's attributes may hold any JSON value, null included (its definition: `additionalProperties: true`):
// a key whose value is null is kept, by events and by reconciliation; only a key SaaSus no longer has goes.

const quiet = { info: () => {}, warn: () => {} }

engineTest(t, 'a null attribute value is kept on the event path and the reconcile path; an absent key is removed', async (t, engine) => {
  const api = await startSaasus(t)
  const { app } = await buildApp(t, { ...api.env, LOG_LEVEL: 'warn' }, engine)
  const time = (s: number) => new Date(Date.now() - 3_600_000 + s * 1000).toISOString()
  t.equal(await deliver(app, events.createTenant('n-t', { name: 't', attributes: { plan: null, seats: 3 } }, { time: time(0) })), 'applied')
  t.equal(await deliver(app, events.createUser('n-u', { email: 'n@example.com' }, { time: time(0) })), 'applied')
  t.equal(await deliver(app, events.updateUserAttributes('n-u', { nickname: null, age: 30 }, { time: time(1) })), 'applied')
  t.same((await getJson(app, '/tenants/n-t')).json().attributes, { plan: null, seats: 3 })
  t.same((await getJson(app, '/users/n-u')).json().attributes, { age: 30, nickname: null })
  const feed = (await getJson(app, '/changes?limit=100')).json().entries
  t.same(feed.find((e: any) => e.entity === 'user' && e.cause.event_type === 'update_saas_user_attributes').fields.attributes, { set: { age: 30, nickname: null }, removed: [] })

  // SaaSus now says: the tenant's `plan` still null, `seats` gone; the user's `age` null, `nickname` gone.
  api.state.tenants = [saasus.tenant('n-t', { name: 't', attributes: { plan: null } })]
  api.state.users = [saasus.user('n-u', { email: 'n@example.com', attributes: { age: null } })]
  const result = await new Reconciler({
    client: new SaasusClient({ baseUrl: api.url, credentials: SAASUS, timeoutMs: 5000, retries: 0, maxRetryDelayMs: 0, maxAnswerBytes: 1 << 30 }),
    store: new ReconcileStore(app.repository),
    marginMs: 0,
    chunkSize: 10,
    chunkTargetMs: 25,
    analyzeEveryMs: 0,
    chunkTimeoutMs: 30_000,
    leaseMs: 60_000,
    log: quiet
  }).run()
  t.equal(result.outcome, 'succeeded', result.error ?? '')
  t.same((await getJson(app, '/tenants/n-t')).json().attributes, { plan: null })
  t.same((await getJson(app, '/users/n-u')).json().attributes, { age: null })
  const after = (await getJson(app, '/changes?limit=100')).json().entries.filter((e: any) => e.cause.kind === 'reconcile')
  t.same(after.map((e: any) => [e.entity, e.fields.attributes]).sort(), [['tenant', { set: {}, removed: ['seats'] }], ['user', { set: { age: null }, removed: ['nickname'] }]])
})

engineTest(t, 'the migration marks the keys stored as removed before it (a NULL value) as removed', async (t, engine) => {
  const all = readMigrations(engine.name === 'sqlite' ? SQLITE_MIGRATIONS_DIR : POSTGRESQL_MIGRATIONS_DIR)
  const at = all.findIndex(m => m.name === '20261207130100_attribute_null_values')
  const insert = `INSERT INTO "attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "v") VALUES
    ('user', '', 'u', 'gone', NULL, 'v1'), ('user', '', 'u', 'kept', '"x"', 'v1')`
  const check = 'SELECT "key", "removed" FROM "attribute_values" ORDER BY "key"'
  if (engine.name === 'sqlite') {
    const db = new Database(join(tempDir(t), 'db.sqlite'))
    t.teardown(() => db.close())
    await applyMigrations(sqliteMigrationTarget(db), all.slice(0, at))
    db.exec(insert)
    await applyMigrations(sqliteMigrationTarget(db), all)
    t.same(db.prepare(check).all(), [{ key: 'gone', removed: 1 }, { key: 'kept', removed: 0 }])
    return
  }
  const url = engine.databaseUrl(t)
  const db = await pgClient(t, url)
  await db.query(`CREATE SCHEMA "${postgresqlTarget(url).schema}"`)
  await applyMigrations(postgresqlMigrationTarget(db), all.slice(0, at))
  await db.query(insert)
  await applyMigrations(postgresqlMigrationTarget(db), all)
  t.same((await db.query(check)).rows, [{ key: 'gone', removed: true }, { key: 'kept', removed: false }])
})
