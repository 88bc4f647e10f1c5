import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { engineTest } from './helpers/engines.js'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { events } from './helpers/events.js'
import { emptyState, expectedReads, saasus, startSaasus, type SaasusState, type StandIn } from './helpers/saasus.js'
import { definitions, reads } from './helpers/reads.js'
import { ReconcileStore } from '../src/db/reconcile-store.js'
import { Reconciler } from '../src/reconcile/reconciler.js'
import { testReconciler } from './helpers/reconciler.js'

// What a reconciliation run promises when things go wrong around it: writes older than its snapshot that
// land while it applies are compared again before the floor is raised; items SaaSus sends that this
// service cannot take are refused one by one; a run that keeps its lease alive outlasts it, and a dead
// run's lease expires and the run is marked abandoned by the next.

const OLD = { time: '2026-05-19T10:00:00Z' }
/** A first run's snapshot, before OLD: its rows carry this version, which OLD's events outrank. */
const PRIMED = '2026-05-19T09:00:00Z'

const state = (): SaasusState => ({
  ...emptyState(),
  tenants: [saasus.tenant('t1', { attributes: { a: 1 } }), saasus.tenant('t2')],
  users: [saasus.user('u1', { attributes: { lang: 'ja' }, sign_in_id: 'u1-sign-in' }), saasus.user('u2', { sign_in_id: 'u2-sign-in' })],
  memberships: [saasus.membership('t1', 'u1', { dept: 'dev' }, [{ id: 1, roles: ['admin'] }]), saasus.membership('t2', 'u2', {}, [{ id: 2, roles: ['viewer'] }])],
  roles: [saasus.role('admin', 'Admin'), saasus.role('viewer')],
  envs: [saasus.env(1, 'prod'), saasus.env(2, 'dev')]
})

const expectedDefinitions = (s: SaasusState) => ({
  roles: [...s.roles].sort((a, b) => (a.role_name < b.role_name ? -1 : 1)).map(r => [r.role_name, r.display_name]),
  envs: [...s.envs].sort((a, b) => a.id - b.id).map(e => [e.id, e.name, e.display_name ?? null])
})

/** A store that runs `beforeRaise` before each attempt to raise the floor (events landing at that instant). */
class HookedStore extends ReconcileStore {
  beforeRaise: ((attempt: number) => Promise<void>) | undefined
  attempts = 0
  override async raiseFloor (...args: Parameters<ReconcileStore['raiseFloor']>): Promise<boolean> {
    await this.beforeRaise?.(++this.attempts)
    return await super.raiseFloor(...args)
  }
}

function reconciler (api: StandIn, store: ReconcileStore, options: { leaseMs?: number, chunkSize?: number, snapshotAt?: string } = {}): Reconciler {
  return testReconciler(api.url, store.repository, {
    store,
    marginMs: options.snapshotAt === undefined ? 0 : Date.now() - Date.parse(options.snapshotAt),
    chunkSize: options.chunkSize ?? 1,
    leaseMs: options.leaseMs ?? 60_000
  })
}

const floorRow = async (app: FastifyInstance) => await app.repository.prisma.versionFloor.findUniqueOrThrow({ where: { id: 1 } })
const journal = async (app: FastifyInstance) => await app.repository.prisma.reconcileJournal.count()

engineTest(t, 'writes older than the snapshot that land while it is applied are compared again, then the floor is raised', async (t, engine) => {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, api.env, engine)
  const store = new HookedStore(app.repository)
  t.equal((await reconciler(api, store, { snapshotAt: PRIMED }).run()).outcome, 'succeeded', 'a first run, its snapshot before the events below')
  store.attempts = 0
  // Every kind of row, changed by events dated before the snapshot, after the run compared it.
  const late = [
    events.updateTenant('t1', { name: 'old', attributes: { z: 1 } }, OLD),
    events.createTenant('tX', { name: 'gone in SaaSus' }, OLD),
    events.deleteTenant('t2', OLD),
    events.updateUserEmail('u1', 'old@example.com', OLD),
    events.createUser('uX', { email: 'x@example.com' }, OLD),
    events.createTenantUser('t1', 'u2', { k: 1 }, [{ id: 1, roles: ['viewer'] }], OLD),
    events.deleteTenantUserRole('t1', 'u1', 1, 'admin', OLD),
    events.createRole('ghost', 'Ghost', OLD),
    events.updateRole('admin', 'Old admin', OLD),
    events.createEnv(9, 'nine', OLD),
    events.updateEnv(1, 'old-prod', OLD)
  ]
  const outcomes: string[] = []
  store.beforeRaise = async attempt => {
    if (attempt === 1) for (const e of late) outcomes.push(await deliver(app, e))
  }
  const result = await reconciler(api, store).run()
  t.equal(result.outcome, 'succeeded', result.error ?? '')
  t.same(outcomes, late.map(() => 'applied'), 'the run had not raised the floor: each landed (and was journaled)')
  t.equal(store.attempts, 2, 'the first attempt found the journal full; the second raised the floor')
  t.ok(result.floorRaised)
  t.same(await reads(app), expectedReads(api.state), 'the copy is what the snapshot says')
  t.same(await definitions(app), expectedDefinitions(api.state))
  t.same(await floorRow(app), { id: 1, version: result.snapshotVersion, pendingVersion: '' })
  t.equal(await journal(app), 0)
  t.equal(await deliver(app, events.updateTenant('t1', { name: 'older still' }, { time: '2026-05-18T10:00:00Z' })), 'stale', 'after the raise: stale, as the snapshot holds its effect')
})

engineTest(t, 'writes older than the snapshot that never stop landing: the run gives up raising the floor and fails; they all stay', async (t, engine) => {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, api.env, engine)
  const store = new HookedStore(app.repository)
  // Each attempt, a tenant SaaSus no longer has is created by an event older than the snapshot.
  store.beforeRaise = async attempt => {
    t.equal(await deliver(app, events.createTenant(`gone-${attempt}`, { name: 'old' }, OLD)), 'applied')
  }
  const result = await reconciler(api, store).run()
  t.equal(result.outcome, 'failed')
  t.match(result.error, /writes older than the snapshot kept landing: the floor was not raised after 20 attempts/)
  t.notOk(result.floorRaised)
  t.same(await floorRow(app), { id: 1, version: '', pendingVersion: '' }, 'the floor where it was, nothing pending')
  t.equal((await getJson(app, '/tenants/gone-20')).json().name, 'old', 'the last of them shows: nothing raised the floor over it')
  t.equal(await deliver(app, events.updateTenant('gone-20', { name: 'late' }, { time: '2026-05-19T10:01:00Z' })), 'applied', 'a late event still applies')
})

engineTest(t, 'items SaaSus sends that cannot be taken are refused one by one: the run succeeds, leaves their rows, does not raise the floor', async (t, engine) => {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, api.env, engine)
  // Rows the events made, which refused items stand for: left as they are, never deleted.
  await deliver(app, events.createUser('u-deep', { email: 'deep@example.com' }, OLD))
  await deliver(app, events.createTenant('t-bad', { name: 'from an event' }, OLD))
  await deliver(app, events.createUser('u3', { email: 'u3@example.com' }, OLD))
  await deliver(app, events.createTenantUser('t1', 'u3', {}, [{ id: 2, roles: ['viewer'] }], OLD))
  const nest = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
  const s = api.state
  const items = (list: Array<Record<string, any>>) => list.map(i => JSON.stringify(i)).join(',')
  api.faults.set('/v1/auth/users', {
    body: `{"users":[${items(s.users)},{"id":"u-deep","email":"deep@example.com","attributes":{"x":${nest(200_000)}}},` +
      `{"id":"u-wide","email":"w@example.com","attributes":{"x":[${Array.from({ length: 10_001 }, () => '0').join(',')}]}},` +
      `{"id":"u3","email":"u3@example.com","attributes":${nest(3000)}}]}`
  })
  api.faults.set('/v1/auth/tenants', { body: `{"tenants":[${items(s.tenants)},${JSON.stringify(saasus.tenant('t-bad', { name: 5 }))},{"name":"no id"}]}` })
  api.faults.set('/v1/auth/tenants/all/users', {
    body: `{"users":[${items(s.memberships)},${JSON.stringify({ ...saasus.membership('t1', 'u3'), envs: 'x' })}]}`
  })
  const result = await reconciler(api, new ReconcileStore(app.repository)).run()
  t.equal(result.outcome, 'succeeded', result.error ?? '')
  t.notOk(result.floorRaised, 'the snapshot does not say what the refused rows hold: the floor stays')
  t.match(result.drift.users, {
    refused: 3,
    refusals: [
      { id: 'u-deep', field: /^GET \/v1\/auth\/users \/users\/2\/attributes\/x(\/a){62}$/, reason: 'is nested deeper than 64 levels' },
      { id: 'u-wide', reason: /MAX_EVENT_VALUES/ },
      { id: 'u3', reason: 'is nested deeper than 64 levels' }
    ]
  })
  t.match(result.drift.tenants, { refused: 2, refusals: [{ id: 't-bad', field: 'GET /v1/auth/tenants /tenants/2/name', reason: 'Expected string' }, { id: null, field: 'GET /v1/auth/tenants /tenants/3/id' }] })
  t.match(result.drift.memberships, { refused: 1, refusals: [{ id: 't1/u3', reason: /array/i }] })
  t.equal(result.drift.tenants.deleted, 0, 'a refused tenant without an id: no tenant is deleted')
  t.equal((await getJson(app, '/users/u-deep')).json().email, 'deep@example.com', 'the refused user stays as the events made it')
  t.equal((await getJson(app, '/tenants/t-bad')).json().name, 'from an event')
  t.match((await getJson(app, '/users/u3')).json().tenants, [{ tenant_id: 't1', envs: [{ env_id: 2, roles: ['viewer'] }] }], 'the refused membership keeps its roles')
  t.equal((await getJson(app, '/users/u1')).json().attributes.lang, 'ja', 'the other items applied')
  t.same(await floorRow(app), { id: 1, version: '', pendingVersion: '' })
  t.equal(await deliver(app, events.updateUserEmail('u-deep', 'older@example.com', { time: '2026-05-19T11:00:00Z' })), 'applied', 'its late events still apply')
  const run = (await getJson(app, '/reconcile/runs')).json().items[0]
  t.match(run.counts.users, { refused: 3, refusals: [{ id: 'u-deep' }, { id: 'u-wide' }, { id: 'u3' }] }, 'the record keeps them')
})

engineTest(t, 'a living run keeps its lease past the lease\'s length; a dead run\'s lease expires, and the next run marks it abandoned and proceeds', async (t, engine) => {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, api.env, engine)
  const prisma = app.repository.prisma
  // The answer to /roles takes three leases' time: the heartbeat keeps the lease meanwhile.
  let renewals = 0
  api.onRequest = async path => {
    if (path !== '/v1/auth/roles') return
    const before = (await prisma.reconcileLease.findUniqueOrThrow({ where: { id: 1 } })).expiresAt
    await new Promise(resolve => setTimeout(resolve, 900))
    renewals = (await prisma.reconcileLease.findUniqueOrThrow({ where: { id: 1 } })).expiresAt.getTime() - before.getTime()
  }
  const long = await reconciler(api, new ReconcileStore(app.repository), { leaseMs: 300 }).run()
  t.equal(long.outcome, 'succeeded', long.error ?? '')
  t.ok(renewals >= 500, `renewed while the run waited (${renewals} ms later)`)
  api.onRequest = undefined

  // A run whose process died: its row says running, its lease was last renewed moments ago.
  await prisma.reconcileRun.create({ data: { id: 'dead-run', startedAt: new Date(), snapshotVersion: 'x', dryRun: false, trigger: 'manual', outcome: 'running' } })
  await prisma.reconcileLease.update({ where: { id: 1 }, data: { holder: 'dead-run', expiresAt: new Date(Date.now() + 300) } })
  const early = await app.reconciler!.run()
  t.same([early.outcome, early.error], ['skipped', 'another reconciliation holds the lease'], 'while its lease lasts')
  await new Promise(resolve => setTimeout(resolve, 350))
  const next = await app.reconciler!.run()
  t.equal(next.outcome, 'succeeded')
  t.same(next.abandoned, ['dead-run'])
  const dead = await prisma.reconcileRun.findUniqueOrThrow({ where: { id: 'dead-run' } })
  t.equal(dead.outcome, 'abandoned')
  t.same(dead.endedAt, next.startedAt, 'ended when it was found dead')
  t.match(dead.error, new RegExp(`^abandoned: its lease expired without renewal .*seen by run ${next.id}$`))
  const listed = (await getJson(app, '/reconcile/runs')).json().items.find((r: any) => r.id === 'dead-run')
  t.match(listed, { outcome: 'abandoned', ended_at: next.startedAt.toISOString() })
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /receiver_reconcile_runs_total\{outcome="abandoned"\} 1/)
  t.same((await app.reconciler!.run()).abandoned, [], 'found once')
})
