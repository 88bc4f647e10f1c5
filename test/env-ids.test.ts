import t from 'tap'
import { buildApp, deliver, getJson, postEvent } from './helpers/app.js'
import { engineTest } from './helpers/engines.js'
import { migrateAcross } from './helpers/migrate-across.js'
import { events, makeEvent } from './helpers/events.js'

// SaaSus's env ids are uint64s (its definition's `Id`). Ids up to 2^53 - 1 are kept exactly on both engines
// (BIGINT columns); larger ones are refused with a message naming the field, never rounded (docs/ordering.md).

const time = '2026-05-19T02:22:58Z'
const later = '2026-05-19T02:22:59Z'
const TWO_31 = 2 ** 31
const MAX = Number.MAX_SAFE_INTEGER
const U64_MAX = '18446744073709551615'

/** A create_env whose request and response bodies carry `id` as written (a JSON number literal). */
function createEnvLiteral (id: string): Record<string, any> {
  const event = events.createEnv(1, 'big', { time })
  const inner = JSON.parse(event.detail.event)
  inner.request_body = `{"id": ${id}, "name": "big", "display_name": "BIG"}`
  inner.response_body = inner.request_body
  event.detail.event = JSON.stringify(inner)
  return event
}

engineTest(t, 'env ids of 2^31, 99999999999 and 2^53 - 1 are kept exactly, in events and the read API', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  t.equal(await deliver(app, events.createTenant('e-t', { name: 'tenant' }, { time })), 'applied')
  t.equal(await deliver(app, events.createUser('e-u', { email: 'e@example.com' }, { time })), 'applied')
  const results = (await postEvent(app, [
    events.createEnv(TWO_31, 'two31', { time }),
    events.createEnv(MAX, 'max', { time }),
    events.createTenantUser('e-t', 'e-u', {}, [{ id: TWO_31, roles: ['admin'] }, { id: MAX - 1, roles: [] }], { time: later }),
    events.createTenantUserRoles('e-t', 'e-u', 99999999999, ['viewer'], { time: later }),
    events.createTenantUserRoles('e-t', 'e-u', MAX, ['owner'], { time: later })
  ])).json().results
  t.same(results.map((r: { outcome: string }) => r.outcome), Array(5).fill('applied'))
  t.same((await getJson(app, '/users/e-u')).json().tenants[0].envs, [
    { env_id: TWO_31, roles: ['admin'] }, { env_id: 99999999999, roles: ['viewer'] }, { env_id: MAX - 1, roles: [] }, { env_id: MAX, roles: ['owner'] }
  ], 'an env listed without role too')
  const deleted = makeEvent({ eventType: 'delete_tenant_user_role', method: 'DELETE', uri: `/v1/auth/tenants/e-t/users/e-u/envs/${MAX}/roles/owner`, time: '2026-05-19T02:23:00Z' })
  t.same((await postEvent(app, deleted)).json().results[0].outcome, 'applied', 'an id of 16 digits in the uri')
  t.same((await getJson(app, '/users/e-u')).json().tenants[0].envs.map((e: { env_id: number }) => e.env_id), [TWO_31, 99999999999, MAX - 1])
  const feed = (await getJson(app, '/changes?limit=1000')).json().entries
  t.same(feed.filter((e: { entity: string }) => e.entity === 'env').map((e: { key: { id: number } }) => e.key.id).sort(), [TWO_31, MAX].sort())
  t.ok(feed.some((e: { entity: string, key: { env_id?: number } }) => e.entity === 'role_assignment' && e.key.env_id === 99999999999))
  t.ok(feed.some((e: { entity: string, key: { env_id?: number } }) => e.entity === 'membership_env' && e.key.env_id === MAX - 1))
})

engineTest(t, 'env ids above 2^53 - 1 are refused with a message naming the field, never rounded', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  for (const id of [U64_MAX, '9007199254740992', '18446744073709551616']) {
    const res = await postEvent(app, createEnvLiteral(id))
    t.equal(res.statusCode, 400, `create_env ${id}`)
    t.match(res.json(), { field: '/detail/event/request_body/id', message: /less or equal to 9007199254740991/ })
  }
  t.equal((await postEvent(app, createEnvLiteral(String(MAX)))).json().results[0].outcome, 'applied', 'the largest kept')
  for (const id of [U64_MAX, '9007199254740992']) {
    const res = await postEvent(app, events.deleteEnv(id as unknown as number, { time }))
    t.equal(res.statusCode, 400)
    t.same(res.json().field, '/detail/event/uri')
    t.equal(res.json().message, `body/detail/event/uri env_id ${id} is above 9007199254740991, the largest env id this service keeps exactly (2^53 - 1): refused, not rounded`)
  }
  const res = await postEvent(app, events.deleteEnv('-1' as unknown as number, { time }))
  t.equal(res.json().message, 'body/detail/event/uri env_id "-1" is not an unsigned integer')
  // In a batch: definite outcomes, the others applied.
  const batch = (await postEvent(app, [events.createEnv(TWO_31, 'ok', { time }), createEnvLiteral(U64_MAX), events.createEnv(7, 'seven', { time })])).json().results
  t.same(batch.map((r: { outcome: string }) => r.outcome), ['applied', 'rejected', 'applied'])
  t.equal((await app.repository.quarantined()).length, 7, 'each refusal quarantined')
})

engineTest(t, 'the migration to BIGINT keeps the rows already there', async (t, engine) => {
  const db = await migrateAcross(t, engine, '20261207130000_env_ids_bigint',
    `INSERT INTO "envs" ("id", "live", "live_v", "name", "name_v") VALUES (3, true, 'v1', 'prod', 'v1');
    INSERT INTO "tenant_user_roles" ("tenant_id", "user_id", "env_id", "role_name", "live", "live_v") VALUES ('t', 'u', 3, 'admin', true, 'v1')`)
  // SQLite's integers read as bigint; PostgreSQL's BIGINT as text.
  const int = (n: number): unknown => engine.name === 'sqlite' ? BigInt(n) : String(n)
  t.same(await db.rows('SELECT e."id", e."name", r."env_id", r."role_name" FROM "envs" e JOIN "tenant_user_roles" r ON r."env_id" = e."id"'),
    [{ id: int(3), name: 'prod', env_id: int(3), role_name: 'admin' }])
  await db.exec(`INSERT INTO "envs" ("id", "live", "live_v") VALUES (${MAX}, true, 'v2')`)
  t.same(await db.rows('SELECT "id" FROM "envs" ORDER BY "id"'), [{ id: int(3) }, { id: int(MAX) }])
  if (engine.name === 'sqlite') {
    t.same(await db.rows('SELECT count(*) AS n FROM sqlite_master WHERE name = \'tenant_user_roles_user_id_idx\''), [{ n: 1n }], 'the index is there again')
  }
})
