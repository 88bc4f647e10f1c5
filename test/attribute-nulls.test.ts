import t from 'tap'
import { engineTest } from './helpers/engines.js'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { migrateAcross } from './helpers/migrate-across.js'
import { events } from './helpers/events.js'
import { saasus, startSaasus } from './helpers/saasus.js'
import { testReconciler } from './helpers/reconciler.js'

// SaaSus's attributes may hold any JSON value, null included (its definition: `additionalProperties: true`):
// a key whose value is null is kept, by events and by reconciliation; only a key SaaSus no longer has goes.

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
  const result = await testReconciler(api.url, app.repository, { chunkSize: 10, analyzeEveryMs: 0 }).run()
  t.equal(result.outcome, 'succeeded', result.error ?? '')
  t.same((await getJson(app, '/tenants/n-t')).json().attributes, { plan: null })
  t.same((await getJson(app, '/users/n-u')).json().attributes, { age: null })
  const after = (await getJson(app, '/changes?limit=100')).json().entries.filter((e: any) => e.cause.kind === 'reconcile')
  t.same(after.map((e: any) => [e.entity, e.fields.attributes]).sort(), [['tenant', { set: {}, removed: ['seats'] }], ['user', { set: { age: null }, removed: ['nickname'] }]])
})

engineTest(t, 'the migration marks the keys stored as removed before it (a NULL value) as removed', async (t, engine) => {
  const db = await migrateAcross(t, engine, '20261207130100_attribute_null_values', `INSERT INTO "attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "v") VALUES
    ('user', '', 'u', 'gone', NULL, 'v1'), ('user', '', 'u', 'kept', '"x"', 'v1')`)
  // SQLite's booleans are integers (read as bigint).
  const [yes, no] = engine.name === 'sqlite' ? [1n, 0n] : [true, false]
  t.same(await db.rows('SELECT "key", "removed" FROM "attribute_values" ORDER BY "key"'), [{ key: 'gone', removed: yes }, { key: 'kept', removed: no }])
})
