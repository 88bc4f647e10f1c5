import tap from 'tap'
import { engineTest } from './helpers/engines.js'
import { API_KEY, buildApp, deliver, EVENTBRIDGE_HEADERS, getJson } from './helpers/app.js'
import { events } from './helpers/events.js'
import { saasus, startSaasus } from './helpers/saasus.js'
import { testReconciler } from './helpers/reconciler.js'
import { migrateAcross } from './helpers/migrate-across.js'

// An attribute value's numbers are JSON numbers of double precision, and every finite double reads back as
// the same double (SQLite used to turn a top-level number into a REAL, off in the last digit for some, and
// its feed rendered REALs with 15 digits). -0 reads back as 0, as JSON.stringify writes it and jsonb keeps it.

const numbers: Record<string, number> = {
  sum: 0.1 + 0.2,
  tiniest: 5e-324,
  largest: 1.7976931348623157e308,
  small: 1.2345678901234567e-300,
  digits17: 123456789.12345679,
  negative: -2.8602670089381487e-210,
  big: 1e21,
  tiny: 1e-7,
  third: 1 / 3,
  pi: -Math.PI,
  integer: 9007199254740991,
  zero: 0
}
const nested = { list: [5e-324, 0.1 + 0.2, { deep: 1.2345678901234567e-300 }], text: '0.30000000000000004' }
const sent = { ...numbers, nested }

/** The same doubles in every place, compared by Object.is, and the same JSON text. */
function sameNumbers (t: Pick<typeof tap, 'ok' | 'equal'>, got: Record<string, unknown>, want: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(want)) {
    if (typeof value === 'number') t.ok(Object.is(got[key], value), `${where}: ${key} ${String(got[key])} is ${value}`)
  }
  const text = (o: Record<string, unknown>): string => JSON.stringify(Object.fromEntries(Object.entries(o).sort()))
  t.equal(text(got), text(want), `${where}: the same JSON`)
}

engineTest(tap, 'every finite double in an attribute value reads back as the same double, on events and on reconciliation', async (t, engine) => {
  const api = await startSaasus(t)
  const { app } = await buildApp(t, { ...api.env, LOG_LEVEL: 'warn' }, engine)
  const time = (s: number) => new Date(Date.now() - 3_600_000 + s * 1000).toISOString()
  t.equal(await deliver(app, events.createTenant('f-t', { name: 't', attributes: sent }, { time: time(0) })), 'applied')
  t.equal(await deliver(app, events.createUser('f-u', { email: 'f@example.com' }, { time: time(0) })), 'applied')
  t.equal(await deliver(app, events.updateUserAttributes('f-u', sent, { time: time(1) })), 'applied')
  t.equal(await deliver(app, events.createTenantUser('f-t', 'f-u', sent, [], { time: time(2) })), 'applied')

  sameNumbers(t, (await getJson(app, '/tenants/f-t')).json().attributes, sent, 'tenant')
  const user = (await getJson(app, '/users/f-u')).json()
  sameNumbers(t, user.attributes, sent, 'user')
  sameNumbers(t, user.tenants[0].attributes, sent, 'membership')
  const feed = (await getJson(app, '/changes?limit=100')).json().entries
  const set = (entity: string, type: string) => feed.find((e: any) => e.entity === entity && e.cause.event_type === type).fields.attributes.set
  sameNumbers(t, set('tenant', 'create_tenant'), sent, 'feed, tenant')
  sameNumbers(t, set('user', 'update_saas_user_attributes'), sent, 'feed, user')
  sameNumbers(t, set('membership', 'create_tenant_user'), sent, 'feed, membership')

  // -0: JSON.stringify writes 0, and PostgreSQL's jsonb keeps no sign on a zero; it reads back as 0 on both.
  const res = await app.inject({
    method: 'POST', url: '/events', headers: { ...EVENTBRIDGE_HEADERS, 'x-api-key': API_KEY },
    payload: JSON.stringify(events.updateUserAttributes('f-u', { ...sent, minus: 1 }, { time: time(3), encoding: 'object' })).replace('"minus":1', '"minus":-0')
  })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().results[0].outcome, 'applied')
  t.equal(JSON.stringify((await getJson(app, '/users/f-u')).json().attributes.minus), '0')

  // Reconciliation writes what SaaSus's API answers: other doubles, each of them too.
  const other = Object.fromEntries(Object.entries(numbers).map(([k, v]) => [k, v === 0 ? 0 : -v]))
  api.state.tenants = [saasus.tenant('f-t', { name: 't', attributes: other })]
  api.state.users = [saasus.user('f-u', { email: 'f@example.com', attributes: { ...other, nested } })]
  const result = await testReconciler(api.url, app.repository, { chunkSize: 10, analyzeEveryMs: 0 }).run()
  t.equal(result.outcome, 'succeeded', result.error ?? '')
  sameNumbers(t, (await getJson(app, '/tenants/f-t')).json().attributes, other, 'reconciled tenant')
  sameNumbers(t, (await getJson(app, '/users/f-u')).json().attributes, { ...other, nested }, 'reconciled user')
  const reconciled = (await getJson(app, '/changes?limit=100')).json().entries.filter((e: any) => e.cause.kind === 'reconcile')
  const { zero, ...changed } = other // 0 stays 0: no change
  sameNumbers(t, reconciled.find((e: any) => e.entity === 'tenant').fields.attributes.set, changed, 'feed, reconciled tenant')
})

engineTest(tap, 'the migration keeps each value stored before it, a number SQLite kept as a REAL as the same double', async (t, engine) => {
  // JSON text as the write path bound it: SQLite's JSONB column (NUMERIC affinity) made the bare numbers
  // REALs (42 an INTEGER), which a plain CAST to text would have cut to 15 digits.
  const values = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, 123456789.12345679, 1e21, 1 / 3, 42, 'text', { a: [1.5, null] }, null]
  const rows = values.map((value, i) => `('user', '', 'u', 'k${i}', '${JSON.stringify(value)}', false, 'v1')`)
  const db = await migrateAcross(t, engine, '20261208100000_attribute_value_text', `INSERT INTO "attribute_values"
    ("scope", "tenant_id", "user_id", "key", "value", "removed", "v") VALUES ${rows.join(', ')}, ('user', '', 'u', 'gone', NULL, true, 'v1')`)
  const kept = await db.rows('SELECT CAST("value" AS TEXT) AS "value" FROM "attribute_values" WHERE "key" LIKE \'k%\' ORDER BY "key"') as Array<{ value: string }>
  const read = kept.map(r => JSON.parse(r.value))
  t.same(read, values, 'every value')
  t.ok(read.every((v, i) => typeof v !== 'number' || Object.is(v, values[i])), 'each number the same double')
  t.same(await db.rows('SELECT "value" FROM "attribute_values" WHERE "key" = \'gone\''), [{ value: null }], 'a removed key has none')
  if (engine.name === 'sqlite') {
    t.same(await db.rows('SELECT DISTINCT typeof("value") AS "type" FROM "attribute_values" WHERE "value" IS NOT NULL'), [{ type: 'text' }], 'kept as JSON text')
    t.same((await db.rows('PRAGMA index_list("attribute_values")')).map((i: any) => i.name).sort(), ['attribute_values_user_id_idx', 'sqlite_autoindex_attribute_values_1'])
  }
})
