import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { engineTest, postgresql, sqlite } from './helpers/engines.js'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { events } from './helpers/events.js'
import { emptyState, expectedReads, saasus, startSaasus, type SaasusState } from './helpers/saasus.js'
import { definitions, reads } from './helpers/reads.js'
import { Fold, readState } from './helpers/feed.js'
import type { RunResult } from '../src/reconcile/reconciler.js'

// Reconciliation against a stand-in SaaSus API, on both engines: the copy ends equal to SaaSus's state,
// through the same version guards as events.

const expectedDefinitions = (state: SaasusState) => ({
  roles: [...state.roles].sort((a, b) => (a.role_name < b.role_name ? -1 : 1)).map(r => [r.role_name, r.display_name]),
  envs: [...state.envs].sort((a, b) => a.id - b.id).map(e => [e.id, e.name, e.display_name ?? null])
})

/** Every projected row, versions included: what "nothing written" is checked against. */
async function dump (app: FastifyInstance): Promise<unknown> {
  const db = app.repository.prisma
  return {
    tenants: await db.tenant.findMany({ orderBy: { id: 'asc' } }),
    users: await db.user.findMany({ orderBy: { id: 'asc' } }),
    memberships: await db.tenantUser.findMany({ orderBy: [{ tenantId: 'asc' }, { userId: 'asc' }] }),
    roles: await db.tenantUserRole.findMany({ orderBy: [{ tenantId: 'asc' }, { userId: 'asc' }, { envId: 'asc' }, { roleName: 'asc' }] }),
    roleDefinitions: await db.role.findMany({ orderBy: { roleName: 'asc' } }),
    envs: await db.env.findMany({ orderBy: { id: 'asc' } }),
    attributes: await db.attributeValue.findMany({ orderBy: [{ scope: 'asc' }, { tenantId: 'asc' }, { userId: 'asc' }, { key: 'asc' }] }),
    floor: await db.versionFloor.findMany()
  }
}

const run = async (app: FastifyInstance, options: { dryRun?: boolean } = {}): Promise<RunResult> => await app.reconciler!.run(options)

const totals = (r: RunResult) => Object.fromEntries(Object.entries(r.drift).map(([e, d]) => [e, [d.created, d.updated, d.deleted, d.unchanged]]))

const fullState = (): SaasusState => ({
  tenants: [
    saasus.tenant('t1', {
      attributes: { plan: 'gold', n: 1 },
      plan_id: 'p1',
      plan_histories: [{ plan_id: 'p1', plan_applied_at: 1780000000 }],
      billing_info: { name: 'ACME', address: { street: 's', city: 'c', state: 'st', country: 'JP', postal_code: '1' }, invoice_language: 'ja-JP' },
      next_plan_id: 'p2',
      using_next_plan_from: 2000000000,
      unknown_future_field: { x: 1 }
    }),
    saasus.tenant('t2')
  ],
  users: [saasus.user('u1', { attributes: { lang: 'ja', unset: null } }), saasus.user('u2', { sign_in_id: 'u2-sign-in' })],
  memberships: [
    saasus.membership('t1', 'u1', { dept: 'dev' }, [{ id: 1, roles: ['admin', 'viewer'] }]),
    saasus.membership('t2', 'u1'),
    saasus.membership('t1', 'u2', {}, [{ id: 2, roles: ['viewer'] }])
  ],
  roles: [saasus.role('admin', 'Admin'), saasus.role('viewer')],
  envs: [saasus.env(1, 'prod'), saasus.env(2, 'dev')]
})

engineTest(t, 'an empty database ends equal to SaaSus; a second run writes nothing', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, api.env, engine)
  const first = await run(app)
  t.equal(first.outcome, 'succeeded', first.error ?? '')
  t.same(await reads(app), expectedReads(api.state))
  t.same(await definitions(app), expectedDefinitions(api.state))
  t.same(totals(first), {
    tenants: [2, 0, 0, 0], users: [2, 0, 0, 0], memberships: [3, 0, 0, 0], role_assignments: [3, 0, 0, 0], membership_envs: [0, 0, 0, 0], roles: [2, 0, 0, 0], envs: [2, 0, 0, 0]
  })
  t.same(first.drift.tenants.ids.created, ['t1', 't2'])
  t.same(first.drift.memberships.ids.created, ['t1/u1', 't2/u1', 't1/u2'])
  t.equal(await app.reconcileStore.floor(), first.snapshotVersion, 'the floor is the snapshot version')
  t.match(first.snapshotVersion, new RegExp(`^\\d{15}:-:reconcile:${first.id}$`))
  t.ok(Math.abs(Number(first.snapshotVersion.slice(0, 15)) - (first.startedAt.getTime() - 60_000)) < 1, 'start time minus the 60 s margin')

  const before = await dump(app)
  const second = await run(app)
  t.same(totals(second), {
    tenants: [0, 0, 0, 2], users: [0, 0, 0, 2], memberships: [0, 0, 0, 3], role_assignments: [0, 0, 0, 3], membership_envs: [0, 0, 0, 0], roles: [0, 0, 0, 2], envs: [0, 0, 0, 2]
  })
  const after = await dump(app) as { floor: unknown }
  t.same({ ...after, floor: null }, { ...(before as object), floor: null }, 'no row was written by the no-op run')
  t.same(after.floor, [{ id: 1, version: second.snapshotVersion, pendingVersion: '' }], 'the floor raised, nothing pending')

  const runs = (await getJson(app, '/reconcile/runs')).json()
  t.same(runs.items.map((r: any) => [r.id, r.outcome, r.trigger, r.dry_run]), [[second.id, 'succeeded', 'manual', false], [first.id, 'succeeded', 'manual', false]])
  t.equal(runs.items[1].snapshot_version, first.snapshotVersion)
  t.same(runs.items[1].counts.tenants, { created: 2, updated: 0, deleted: 0, unchanged: 0, refused: 0, ids: { created: ['t1', 't2'], updated: [], deleted: [] }, refusals: [] })
  t.equal(runs.next_cursor, null)
  const page = (await getJson(app, '/reconcile/runs?limit=1')).json()
  t.same(page.items.map((r: any) => r.id), [second.id])
  t.same((await getJson(app, `/reconcile/runs?limit=1&cursor=${page.next_cursor}`)).json().items.map((r: any) => r.id), [first.id])
  t.equal((await app.inject({ method: 'GET', url: '/reconcile/runs' })).statusCode, 401, 'the API key is required')
})

// A history (all in May 2026, long before the snapshot) and the state SaaSus holds after it.
const history = () => ({
  kept: [
    events.createTenant('t1', { name: 't1', attributes: { a: 1, b: 2 } }, { time: '2026-05-19T10:00:00Z' }),
    events.createTenant('t2', { name: 't2' }, { time: '2026-05-19T10:00:00Z' }),
    events.createUser('u1', { email: 'u1@example.com', attributes: { lang: 'ja' } }, { time: '2026-05-19T10:00:00Z' }),
    events.createTenantUser('t1', 'u1', { dept: 'dev' }, [{ id: 1, roles: ['admin', 'viewer'] }], { time: '2026-05-19T10:00:01Z' }),
    events.updateTenantPlan('t1', { next_plan_id: 'p' }, { time: '2026-05-19T10:00:03Z' })
  ],
  lost: [
    events.updateTenant('t1', { name: 't1b', attributes: { a: null } }, { time: '2026-05-19T10:00:02Z' }),
    events.deleteTenantUserRole('t1', 'u1', 1, 'viewer', { time: '2026-05-19T10:00:02Z' }),
    events.deleteTenant('t2', { time: '2026-05-19T10:00:03Z' }),
    events.createTenantUser('t2', 'u1', {}, [{ id: 2, roles: ['x'] }], { time: '2026-05-19T09:00:00Z' })
  ],
  saasus: {
    ...emptyState(),
    // The plan change applied at once (no using_next_plan_from): SaaSus holds it as the plan, with its history entry.
    tenants: [saasus.tenant('t1', { name: 't1b', attributes: { b: 2 }, back_office_staff_email: 'staff@example.com', plan_id: 'p', plan_histories: [{ plan_id: 'p', plan_applied_at: 1779184803 }] })],
    users: [saasus.user('u1', { attributes: { lang: 'ja' } })],
    memberships: [saasus.membership('t1', 'u1', { dept: 'dev' }, [{ id: 1, roles: ['admin'] }])]
  }
})

engineTest(t, 'PostgreSQL chunks: random_page_cost 1.1; with RECONCILE_SYNCHRONOUS_COMMIT=off, synchronous_commit off; the copy ends the same', async t => {
  const api = await startSaasus(t, fullState())
  for (const setting of ['off', 'on']) {
    const { app } = await buildApp(t, { ...api.env, RECONCILE_SYNCHRONOUS_COMMIT: setting }, postgresql)
    // What each transaction of the run committed with, read inside it after its work.
    const seen: string[] = []
    const transaction = app.repository.transaction.bind(app.repository)
    app.repository.transaction = async (work, timeoutMs) => await transaction(async tx => {
      const result = await work(tx)
      const [row] = await tx.$queryRawUnsafe<Array<{ s: string, r: string }>>("SELECT current_setting('synchronous_commit') AS s, current_setting('random_page_cost') AS r")
      seen.push(`${row.s} ${row.r}`)
      return result
    }, timeoutMs)
    t.equal((await run(app)).outcome, 'succeeded')
    t.same(await reads(app), expectedReads(api.state))
    t.ok(seen.length >= 5, `${setting}: ${seen.length} chunks`)
    t.same([...new Set(seen)], [`${setting} 1.1`], `${setting}: every chunk`)
  }
}, [postgresql])

engineTest(t, 'events lost, then a reconcile: the copy equals the full state; the lost events arriving late are stale', async (t, engine) => {
  const h = history()
  const api = await startSaasus(t, h.saasus)
  const { app } = await buildApp(t, api.env, engine)
  for (const e of h.kept) t.equal(await deliver(app, e), 'applied')
  t.not(JSON.stringify(await reads(app)), JSON.stringify(expectedReads(api.state, { u1: '' })))
  const result = await run(app)
  t.equal(result.outcome, 'succeeded')
  t.same(await reads(app), expectedReads(api.state, { u1: '' }), 'sign_in_id, which SaaSus does not list, stays as the events set it')
  t.same(totals(result), {
    tenants: [0, 1, 1, 0], users: [0, 0, 0, 1], memberships: [0, 0, 0, 1], role_assignments: [0, 0, 1, 1], membership_envs: [0, 0, 0, 0], roles: [0, 0, 0, 0], envs: [0, 0, 0, 0]
  })
  for (const e of h.lost) t.equal(await deliver(app, e), 'stale', `late ${e.detail.event_type}`)
  t.same(await reads(app), expectedReads(api.state, { u1: '' }))
})

engineTest(t, 'deletions: entities, memberships, role assignments, attribute keys, role and env definitions', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, api.env, engine)
  t.equal((await run(app)).outcome, 'succeeded')
  const state = fullState()
  state.tenants = [saasus.tenant('t1', { ...state.tenants[0], attributes: { plan: 'gold', n: null } })]
  state.users = [saasus.user('u1')]
  state.memberships = [saasus.membership('t1', 'u1', {}, [{ id: 1, roles: ['admin'] }])]
  state.roles = [saasus.role('admin', 'Administrator')]
  state.envs = [saasus.env(1, 'production')]
  api.state = state
  const result = await run(app)
  t.same(await reads(app), expectedReads(state))
  t.same(await definitions(app), expectedDefinitions(state))
  t.same(totals(result), {
    tenants: [0, 1, 1, 0], users: [0, 1, 1, 0], memberships: [0, 1, 2, 0], role_assignments: [0, 0, 2, 1], membership_envs: [0, 0, 0, 0], roles: [0, 1, 1, 0], envs: [0, 1, 1, 0]
  })
  t.same(result.drift.role_assignments.ids.deleted.sort(), ['t1/u1/1/viewer', 't1/u2/2/viewer'])
  t.equal((await getJson(app, '/tenants/t2')).statusCode, 404)

  // Everything comes back when SaaSus has it again, attributes and roles included.
  api.state = fullState()
  t.equal((await run(app)).outcome, 'succeeded')
  t.same(await reads(app), expectedReads(api.state))
  t.same(await definitions(app), expectedDefinitions(api.state))
})

engineTest(t, 'after a run, a newer event wins and an older one is stale, also where the run wrote nothing', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, { ...api.env, RECONCILE_MARGIN: '0' }, engine)
  const first = await run(app)
  await new Promise(resolve => setTimeout(resolve, 2100))
  const second = await run(app)
  t.equal(second.drift.tenants.unchanged, 2, 'the second run wrote no tenant')
  // Between the two snapshots: newer than what the first wrote, older than the second's floor.
  const between = new Date(Math.ceil((first.startedAt.getTime() + 1) / 1000) * 1000).toISOString().replace('.000', '')
  t.ok(Date.parse(between) < second.startedAt.getTime())
  t.equal(await deliver(app, events.updateTenant('t2', { name: 'between' }, { time: between })), 'stale')
  t.equal(await deliver(app, events.updateTenant('t1', { name: 'old' }, { time: '2026-05-19T10:00:00Z' })), 'stale')
  t.same(await reads(app), expectedReads(api.state))

  // Ahead of the third snapshot, within MAX_FUTURE_SKEW_MS (15 min) of this host's clock.
  const later = new Date(Date.now() + 600_000).toISOString()
  t.equal(await deliver(app, events.updateTenant('t1', { name: 'newer', attributes: { plan: 'silver' } }, { time: later })), 'applied')
  t.equal(await deliver(app, events.deleteTenantUser('t2', 'u1', { time: later })), 'applied')
  const third = await run(app)
  t.equal(third.outcome, 'succeeded')
  const shown = (await getJson(app, '/tenants/t1')).json()
  t.equal(shown.name, 'newer', 'the newer event outranks the snapshot')
  t.same(shown.attributes, { n: 1, plan: 'silver' })
  t.same((await getJson(app, '/tenants/t2')).json().users, [], 'the newer membership delete too')
  t.equal(third.drift.tenants.unchanged, 2, 'a write the guards refused counts as unchanged')
})

engineTest(t, 'events delivered during a run survive it', async (t, engine) => {
  const state = fullState()
  state.tenants = Array.from({ length: 30 }, (_, i) => saasus.tenant(`t${String(i).padStart(2, '0')}`))
  state.memberships = []
  const api = await startSaasus(t, state)
  const { app } = await buildApp(t, { ...api.env, RECONCILE_CHUNK_SIZE: '1' }, engine)
  const soon = () => new Date(Date.now() + 1000).toISOString()
  // One during the fetch, deterministically...
  api.onRequest = async path => {
    if (path === '/v1/auth/envs') t.equal(await deliver(app, events.updateTenant('t00', { name: 'during-fetch' }, { time: soon() })), 'applied')
  }
  // ...and the others while chunks are applied.
  let done = false
  const running = run(app).finally(() => { done = true })
  const delivered: string[] = []
  for (let i = 1; i < 30 && !done; i++) {
    const id = `t${String(i).padStart(2, '0')}`
    await deliver(app, events.updateTenant(id, { name: `during-${id}` }, { time: soon() }))
    delivered.push(id)
  }
  await deliver(app, events.createTenant('t-new', { name: 'created during the run', attributes: { k: 'v' } }, { time: soon() }))
  const result = await running
  t.equal(result.outcome, 'succeeded')
  t.ok(delivered.length > 0)
  t.equal((await getJson(app, '/tenants/t00')).json().name, 'during-fetch')
  for (const id of delivered) t.equal((await getJson(app, `/tenants/${id}`)).json().name, `during-${id}`, id)
  t.match((await getJson(app, '/tenants/t-new')).json(), { name: 'created during the run', attributes: { k: 'v' } })
})

const FAULTS = [
  ['HTTP 500', { status: 500 }, /HTTP 500/],
  ['HTTP 401', { status: 401 }, /refused the credentials/],
  ['a time-out', { delayMs: 600 }, /no complete answer within 300 ms/],
  ['a malformed body', { body: '{"tenants": "x", "users": {}, "roles": 1, "envs": null}' }, /malformed answer/]
] as const
const PATHS = ['/v1/auth/tenants', '/v1/auth/users', '/v1/auth/tenants/all/users', '/v1/auth/roles', '/v1/auth/envs']

engineTest(t, 'any endpoint failing: nothing is written and the run is recorded as failed', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, { ...api.env, SAASUS_TIMEOUT_MS: '300', SAASUS_RETRIES: '0' }, engine)
  await deliver(app, events.createTenant('t9', { name: 'from an event' }, { time: '2026-05-19T10:00:00Z' }))
  const before = await dump(app)
  for (const path of PATHS) {
    for (const [name, fault, message] of FAULTS) {
      api.faults.clear()
      api.faults.set(path, { ...fault })
      const result = await run(app)
      t.equal(result.outcome, 'failed', `${path}: ${name}`)
      t.match(result.error, /^incomplete snapshot, nothing written: GET /)
      t.match(result.error, message)
      t.same(await dump(app), before, 'nothing written')
    }
  }
  const runs = (await getJson(app, '/reconcile/runs?limit=200')).json().items
  t.equal(runs.length, PATHS.length * FAULTS.length)
  t.ok(runs.every((r: any) => r.outcome === 'failed' && r.error.startsWith('incomplete snapshot') && r.ended_at !== null))
  api.faults.clear()
  t.equal((await run(app)).outcome, 'succeeded', 'and the next run completes')
})

engineTest(t, 'one run at a time: a second one skips its round; a dry run writes nothing and reports the same drift', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app, logs } = await buildApp(t, api.env, engine)
  const dry = await run(app, { dryRun: true })
  t.equal(dry.outcome, 'succeeded')
  t.same(await reads(app), { tenants: [], users: [] }, 'the dry run wrote nothing')
  t.equal(await app.reconcileStore.floor(), '')

  const both = await Promise.all([run(app), run(app)])
  t.same(both.map(r => r.outcome).sort(), ['skipped', 'succeeded'])
  const done = both.find(r => r.outcome === 'succeeded')!
  t.same(totals(done), totals(dry), 'the dry run predicted it')
  t.equal(both.find(r => r.outcome === 'skipped')!.error, 'another reconciliation holds the lease')
  t.same(await reads(app), expectedReads(api.state))
  t.equal((await run(app)).outcome, 'succeeded', 'the lease is released after a run')
  const runs = (await getJson(app, '/reconcile/runs')).json().items
  t.same(runs.map((r: any) => r.outcome).sort(), ['skipped', 'succeeded', 'succeeded', 'succeeded'])
  t.ok(runs.some((r: any) => r.dry_run))
  const lines = logs().split('\n').filter(l => l.includes('reconciliation run'))
  t.equal(lines.length, 4, 'one log line per run')
  t.match(JSON.parse(lines[0]), { component: 'reconcile', outcome: 'succeeded', dryRun: true, counts: { tenants: { created: 2 } } })
})

engineTest(t, 'a run that loses its lease, or is stopped, ends failed; a stopped reconciler starts no more runs', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, { ...api.env, RECONCILE_CHUNK_SIZE: '1' }, engine)
  api.onRequest = async path => {
    if (path === '/v1/auth/roles') await app.repository.prisma.reconcileLease.update({ where: { id: 1 }, data: { holder: 'another' } })
  }
  const lost = await run(app)
  t.equal(lost.outcome, 'failed')
  t.match(lost.error, /^incomplete snapshot, nothing written: lost the reconciliation lease/)
  await app.repository.prisma.reconcileLease.update({ where: { id: 1 }, data: { expiresAt: new Date(0) } })

  api.onRequest = async path => { if (path === '/v1/auth/envs') app.reconciler!.stop() }
  const stopped = await run(app)
  t.equal(stopped.outcome, 'failed')
  t.match(stopped.error, /stopped: the service is shutting down/)
  const skipped = await run(app)
  t.same([skipped.outcome, skipped.error], ['skipped', 'the service is shutting down'])
})

engineTest(t, 'a failure while applying is recorded as failed, with what was applied before it', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  // The mass-deletion guard off: it would read the dropped table before anything is applied.
  const { app } = await buildApp(t, { ...api.env, RECONCILE_MAX_DELETE_FRACTION: '1' }, engine)
  await app.repository.prisma.$executeRawUnsafe('DROP TABLE "tenant_user_roles"')
  const failed = await run(app)
  t.equal(failed.outcome, 'failed')
  t.match(failed.error, /^applying the snapshot stopped part-way \(what was applied stays; the version floor was not raised, so every event delivered late still applies; the next run completes it\): /)
  t.equal(failed.drift.roles.created, 2, 'what was applied before the failure is reported')
}, [sqlite])

engineTest(t, 'live keys are read a page at a time in key order; a run refreshes the planner statistics', async (t, engine) => {
  const api = await startSaasus(t, fullState())
  const { app } = await buildApp(t, api.env, engine)
  const analyzed = async (): Promise<boolean> => {
    const [row] = await app.repository.prisma.$queryRawUnsafe<Array<{ n: number | bigint }>>(engine.name === 'sqlite'
      ? 'SELECT count(*) AS n FROM "sqlite_stat1" WHERE "tbl" = \'attribute_values\''
      : 'SELECT count(*) AS n FROM pg_class WHERE relname = \'attribute_values\' AND relnamespace = current_schema()::regnamespace AND reltuples >= 0')
    return Number(row.n) > 0
  }
  if (engine.name === 'postgresql') t.notOk(await analyzed(), 'no statistics before')
  t.equal((await run(app)).outcome, 'succeeded')
  t.ok(await analyzed(), 'statistics after')
  const store = app.reconcileStore
  for (const entity of ['tenant', 'tenant_user', 'tenant_user_role', 'env'] as const) {
    const all = await store.liveKeys(entity, 1000)
    t.ok(all.length >= 2, `${entity}: some live rows`)
    const paged: unknown[] = []
    for (let page = await store.liveKeys(entity, 1); page.length > 0; page = await store.liveKeys(entity, 1, page[0])) paged.push(...page)
    t.same(paged, all, `${entity}: one row per page gives every row once, in the same order`)
  }
})

// SaaSus's definition (UserAvailableEnv) allows an env listed for a membership with `roles: []`: the copy
// shows it with `roles: []`, from a reconciliation or from a create_tenant_user answer, in any order.
const listedEmpty = (envs: Array<{ id: number, roles: string[] }>): SaasusState => ({
  ...emptyState(),
  tenants: [saasus.tenant('t1')],
  users: [saasus.user('u1', { sign_in_id: 'u1-sign-in' })],
  memberships: [saasus.membership('t1', 'u1', {}, envs)],
  envs: [saasus.env(1), saasus.env(2), saasus.env(3)],
  roles: [saasus.role('admin')]
})
const envsOf = async (app: FastifyInstance): Promise<unknown> => (await getJson(app, '/users/u1')).json().tenants.map((m: any) => m.envs)

engineTest(t, 'an env listed with roles: [] reads back with roles: []; a later snapshot without it removes it; the feed follows', async (t, engine) => {
  const api = await startSaasus(t, listedEmpty([{ id: 2, roles: [] }, { id: 1, roles: ['admin'] }]))
  const { app } = await buildApp(t, api.env, engine)
  const fold = new Fold()
  const first = await run(app)
  t.equal(first.outcome, 'succeeded', first.error ?? '')
  t.same(await envsOf(app), [[{ env_id: 1, roles: ['admin'] }, { env_id: 2, roles: [] }]], 'sorted by env id, the empty one with roles: []')
  t.same(await reads(app), expectedReads(api.state))
  t.same(totals(first).membership_envs, [1, 0, 0, 0])
  t.same(first.drift.membership_envs.ids.created, ['t1/u1/2'])
  t.same(await fold.follow(app), [])
  t.same(fold.of('membership_env').map(h => h.key), [{ tenant_id: 't1', user_id: 'u1', env_id: 2 }], 'the feed shows the listing')
  t.same(fold.render(), await readState(app), 'the folded feed is the read API\'s state')
  t.same(totals(await run(app)).membership_envs, [0, 0, 0, 1], 'a second run writes nothing')

  // Env 2 gains a role and env 3 is listed empty: the listing of 2 goes, 3 comes.
  api.state = listedEmpty([{ id: 1, roles: ['admin'] }, { id: 2, roles: ['admin'] }, { id: 3, roles: [] }])
  const second = await run(app)
  t.same(await envsOf(app), [[{ env_id: 1, roles: ['admin'] }, { env_id: 2, roles: ['admin'] }, { env_id: 3, roles: [] }]])
  t.same(await reads(app), expectedReads(api.state))
  t.same(totals(second).membership_envs, [1, 0, 1, 0])
  t.same(second.drift.membership_envs.ids.deleted, ['t1/u1/2'])
  t.same(await fold.follow(app), [])
  t.same(fold.render(), await readState(app))

  // Not listed at all any more: gone from the read API, the console and the feed.
  api.state = listedEmpty([{ id: 1, roles: ['admin'] }])
  const third = await run(app)
  t.same(await envsOf(app), [[{ env_id: 1, roles: ['admin'] }]])
  t.same(await reads(app), expectedReads(api.state))
  t.same(third.drift.membership_envs.ids.deleted, ['t1/u1/3'])
  t.same(await fold.follow(app), [])
  t.same(fold.of('membership_env'), [])
  t.same(fold.render(), await readState(app))

  // A membership with only an empty env; its delete hides the listing, its return shows it again.
  api.state = listedEmpty([{ id: 3, roles: [] }])
  await run(app)
  t.same(await envsOf(app), [[{ env_id: 3, roles: [] }]])
  const later = new Date(Date.now() + 600_000).toISOString()
  t.equal(await deliver(app, events.deleteTenantUser('t1', 'u1', { time: later })), 'applied')
  t.same(await envsOf(app), [])
  t.same(await fold.follow(app), [])
  t.same(fold.of('membership_env'), [], 'the membership\'s delete hides its listing in the feed too')
  t.equal(await deliver(app, events.createTenantUser('t1', 'u1', {}, [], { time: new Date(Date.now() + 660_000).toISOString() })), 'applied')
  t.same(await envsOf(app), [[]], 'a listing older than the membership\'s delete stays hidden')
})

engineTest(t, 'a create_tenant_user answer listing an env with roles: [] shows it, before or after a reconcile, in either order', async (t, engine) => {
  const api = await startSaasus(t, listedEmpty([{ id: 1, roles: ['admin'] }, { id: 2, roles: [] }]))
  const old = { time: '2026-05-19T10:00:00Z' }
  const created = events.createTenantUser('t1', 'u1', {}, [{ id: 1, roles: ['admin'] }, { id: 2, roles: [] }], old)
  const expected = [[{ env_id: 1, roles: ['admin'] }, { env_id: 2, roles: [] }]]

  // Events alone.
  const { app: eventsOnly } = await buildApp(t, api.env, engine)
  for (const e of [events.createTenant('t1', { name: 'name-t1' }, old), created]) t.equal(await deliver(eventsOnly, e), 'applied')
  t.same(await envsOf(eventsOnly), expected, 'SaaSus\'s answer showed the empty env: so does the copy')
  const fold = new Fold()
  t.same(await fold.follow(eventsOnly), [])
  t.same(fold.render(), await readState(eventsOnly))
  // Role events keep their meaning: the env with a role shows as before, a role added to the empty one fills it.
  t.equal(await deliver(eventsOnly, events.createTenantUserRoles('t1', 'u1', 2, ['admin'], { time: '2026-05-19T10:00:01Z' })), 'applied')
  t.same(await envsOf(eventsOnly), [[{ env_id: 1, roles: ['admin'] }, { env_id: 2, roles: ['admin'] }]])
  t.equal(await deliver(eventsOnly, events.deleteTenantUserRole('t1', 'u1', 1, 'admin', { time: '2026-05-19T10:00:02Z' })), 'applied')
  t.same(await envsOf(eventsOnly), [[{ env_id: 2, roles: ['admin'] }]], 'an env whose last role is removed, never listed empty, goes')

  // The event first, then the reconcile: the run finds the listing there.
  const { app: before } = await buildApp(t, api.env, engine)
  for (const e of [events.createTenant('t1', { name: 'name-t1' }, old), created]) t.equal(await deliver(before, e), 'applied')
  const result = await run(before)
  t.same(totals(result).membership_envs, [0, 0, 0, 1], 'the event wrote it already')
  t.same(await envsOf(before), expected)
  t.same(await reads(before), expectedReads(api.state))

  // The reconcile first, then the (older) event: stale, the same reads.
  const { app: after } = await buildApp(t, api.env, engine)
  t.equal((await run(after)).outcome, 'succeeded')
  t.equal(await deliver(after, created), 'stale')
  t.same(await reads(after), await reads(before), 'the same copy in either order')

  // The event lands while the run applies (journaled, compared again before the floor is raised).
  const { app: during } = await buildApp(t, api.env, engine)
  const chunk = during.reconcileStore.chunk.bind(during.reconcileStore)
  let delivered = false
  during.reconcileStore.chunk = async (...args) => {
    if (!delivered) {
      delivered = true
      t.equal(await deliver(during, created), 'applied')
    }
    return await chunk(...args)
  }
  const journaled = await run(during)
  t.equal(journaled.outcome, 'succeeded')
  t.ok(journaled.floorRaised)
  t.same(await envsOf(during), expected)
  t.same(await reads(during), expectedReads(api.state))
})
