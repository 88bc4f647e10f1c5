import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { engineTest } from './helpers/engines.js'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { events } from './helpers/events.js'
import { emptyState, startSaasus, type SaasusState } from './helpers/saasus.js'
import { ReconcileStore } from '../src/db/reconcile-store.js'
import { Reconciler } from '../src/reconcile/reconciler.js'
import { testReconciler } from './helpers/reconciler.js'

// Property: events get lost (only ones older than the snapshot: a later snapshot repairs them), arrive
// late (after the run) or early (before it), and a reconcile runs at a random point of the history. The
// read API must end where delivering the whole history in order ends. SaaSus's state at the snapshot is
// the in-order projection of the events before it, served by the stand-in.
//
// Runs PROPERTY_RUNS cases per engine (default 20); e.g. `PROPERTY_RUNS=500 npx tap test/reconcile-property.test.ts`.

const RUNS = Number(process.env.PROPERTY_RUNS ?? 20)
const TENANTS = ['t0', 't1']
const USERS = ['u0', 'u1']
const ROLES = ['admin', 'viewer']
type Op =
  | { op: 'createTenant' | 'updateTenant', t: string, name: string, attributes: Record<string, unknown> }
  | { op: 'deleteTenant', t: string }
  | { op: 'plan', t: string, plan: string | null }
  | { op: 'billing', t: string, name: string }
  | { op: 'createUser', u: string, name: string, attributes: Record<string, unknown> }
  | { op: 'email', u: string, name: string }
  | { op: 'userAttributes', u: string, attributes: Record<string, unknown> }
  | { op: 'deleteUser', u: string }
  | { op: 'createTenantUser', t: string, u: string, attributes: Record<string, unknown>, env: number, roles: string[] }
  | { op: 'updateTenantUser', t: string, u: string, attributes: Record<string, unknown> }
  | { op: 'deleteTenantUser', t: string, u: string }
  | { op: 'addRoles', t: string, u: string, env: number, roles: string[] }
  | { op: 'removeRole', t: string, u: string, env: number, role: string }

const tenant = fc.constantFrom(...TENANTS)
const user = fc.constantFrom(...USERS)
const env = fc.constantFrom(1, 2)
const name = fc.constantFrom('n1', 'n2', 'n3')
const attributes = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(null), fc.constantFrom('x', 'y')), { maxKeys: 3 })

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('createTenant' as const, 'updateTenant' as const), t: tenant, name, attributes }),
  fc.record({ op: fc.constant('deleteTenant' as const), t: tenant }),
  fc.record({ op: fc.constant('plan' as const), t: tenant, plan: fc.option(fc.constantFrom('plan-a', 'plan-b')) }),
  fc.record({ op: fc.constant('billing' as const), t: tenant, name }),
  fc.record({ op: fc.constant('createUser' as const), u: user, name, attributes }),
  fc.record({ op: fc.constant('email' as const), u: user, name }),
  fc.record({ op: fc.constant('userAttributes' as const), u: user, attributes }),
  fc.record({ op: fc.constant('deleteUser' as const), u: user }),
  fc.record({ op: fc.constant('createTenantUser' as const), t: tenant, u: user, attributes, env, roles: fc.subarray(ROLES) }),
  fc.record({ op: fc.constant('updateTenantUser' as const), t: tenant, u: user, attributes }),
  fc.record({ op: fc.constant('deleteTenantUser' as const), t: tenant, u: user }),
  fc.record({ op: fc.constant('addRoles' as const), t: tenant, u: user, env, roles: fc.subarray(ROLES, { minLength: 1 }) }),
  fc.record({ op: fc.constant('removeRole' as const), t: tenant, u: user, env, role: fc.constantFrom(...ROLES) })
)

/** Keeps only the calls SaaSus would have accepted in this order (no update of what does not exist, no double create). */
function realistic (ops: Op[]): Op[] {
  const tenants = new Set<string>()
  const users = new Set<string>()
  const members = new Set<string>()
  const dropMembers = (test: (key: string) => boolean) => { for (const m of [...members]) if (test(m)) members.delete(m) }
  return ops.filter(o => {
    switch (o.op) {
      case 'createTenant': return !tenants.has(o.t) && tenants.add(o.t) !== undefined
      case 'deleteTenant': if (!tenants.delete(o.t)) return false; dropMembers(m => m.startsWith(`${o.t}/`)); return true
      case 'updateTenant': case 'plan': case 'billing': return tenants.has(o.t)
      case 'createUser': return !users.has(o.u) && users.add(o.u) !== undefined
      case 'deleteUser': if (!users.delete(o.u)) return false; dropMembers(m => m.endsWith(`/${o.u}`)); return true
      case 'email': case 'userAttributes': return users.has(o.u)
      case 'createTenantUser':
        if (!tenants.has(o.t) || members.has(`${o.t}/${o.u}`)) return false
        users.add(o.u)
        members.add(`${o.t}/${o.u}`)
        return true
      case 'deleteTenantUser': return members.delete(`${o.t}/${o.u}`)
      default: return members.has(`${o.t}/${o.u}`)
    }
  })
}

function event (o: Op, ns: string, time: string): Record<string, any> {
  const opts = { time }
  const [t, u] = ['t' in o ? `${ns}${o.t}` : '', 'u' in o ? `${ns}${o.u}` : '']
  switch (o.op) {
    case 'createTenant': return events.createTenant(t, { name: o.name, attributes: o.attributes }, opts)
    case 'updateTenant': return events.updateTenant(t, { name: o.name, attributes: o.attributes }, opts)
    case 'deleteTenant': return events.deleteTenant(t, opts)
    case 'plan': return events.updateTenantPlan(t, o.plan === null ? {} : { next_plan_id: o.plan }, opts)
    case 'billing': return events.updateTenantBillingInfo(t, o.name, opts)
    case 'createUser': return events.createUser(u, { email: `${o.name}@x`, attributes: o.attributes }, opts)
    case 'email': return events.updateUserEmail(u, `${o.name}@y`, opts)
    case 'userAttributes': return events.updateUserAttributes(u, o.attributes, opts)
    case 'deleteUser': return events.deleteUser(u, opts)
    case 'createTenantUser': return events.createTenantUser(t, u, o.attributes, [{ id: o.env, roles: o.roles }], opts)
    case 'updateTenantUser': return events.updateTenantUser(t, u, o.attributes, opts)
    case 'deleteTenantUser': return events.deleteTenantUser(t, u, opts)
    case 'addRoles': return events.createTenantUserRoles(t, u, o.env, o.roles, opts)
    case 'removeRole': return events.deleteTenantUserRole(t, u, o.env, o.role, opts)
  }
}

/** One event per second; before the cut, an event is lost, early or late; after it, early or late. */
const scenario = fc.array(op, { minLength: 1, maxLength: 14 }).chain(raw => {
  const ops = realistic(raw)
  return fc.record({
    ops: fc.constant(ops),
    cut: fc.integer({ min: 0, max: ops.length }),
    fate: fc.array(fc.constantFrom('lost', 'early', 'late'), { minLength: ops.length, maxLength: ops.length }),
    order: fc.shuffledSubarray([...ops.keys()], { minLength: ops.length, maxLength: ops.length })
  })
})

/** The tenants and users of one namespace as the read API shows them; fields a snapshot cannot carry are left out. */
async function state (app: FastifyInstance, ns: string): Promise<unknown> {
  const read = async (url: string) => {
    const res = await getJson(app, url)
    if (res.statusCode === 404) return 'absent'
    const { updated_at: _, sign_in_id: __, ...rest } = res.json()
    // A reservation with nothing reserved is none, as SaaSus shows it.
    if (rest.next_plan !== undefined && rest.next_plan !== null && Object.values(rest.next_plan).every(v => v === null)) rest.next_plan = null
    return rest
  }
  return {
    tenants: await Promise.all(TENANTS.map(async id => await read(`/tenants/${ns}${id}`))),
    users: await Promise.all(USERS.map(async id => await read(`/users/${ns}${id}`)))
  }
}

/** SaaSus's state as its API would answer, from the read API of a copy that received exactly the events before the snapshot. */
async function saasusState (app: FastifyInstance): Promise<SaasusState> {
  const s = emptyState()
  const tenants = (await getJson(app, '/tenants?limit=200')).json().items
  const users = (await getJson(app, '/users?limit=200')).json().items
  for (const t of tenants) {
    s.tenants.push({
      id: t.id, name: t.name, attributes: t.attributes, back_office_staff_email: t.back_office_staff_email,
      plan_histories: t.plan_histories ?? [], plan_id: t.plan_id, ...(t.billing_info === null ? {} : { billing_info: t.billing_info }), ...(t.next_plan ?? {})
    })
  }
  for (const u of users) {
    s.users.push({ id: u.id, email: u.email, attributes: u.attributes })
    for (const m of u.tenants) {
      s.memberships.push({
        id: u.id, tenant_id: m.tenant_id, email: u.email, attributes: m.attributes,
        envs: m.envs.map((e: any) => ({ id: e.env_id, name: `env${e.env_id}`, roles: e.roles.map((r: string) => ({ role_name: r, display_name: r })) }))
      })
    }
  }
  return s
}

engineTest(t, `lost, late and early events around a reconcile reach the in-order state (${RUNS} histories)`, async (t, engine) => {
  const api = await startSaasus(t)
  const env = { ...api.env, LOG_LEVEL: 'warn' }
  const [a, b, c] = [await buildApp(t, env, engine), await buildApp(t, env, engine), await buildApp(t, env, engine)]
  // Each case gets its own minute, after the previous case's snapshot, long enough ago to be in the past.
  const start = Date.now() - 10 * 86_400_000
  let round = 0
  await fc.assert(fc.asyncProperty(scenario, async ({ ops, cut, fate, order }) => {
    round++
    const ns = `r${round}-`
    const base = start + round * 60_000
    const time = (i: number) => new Date(base + i * 1000).toISOString().replace('.000', '')
    const all = ops.map((o, i) => event(o, ns, time(i)))

    // SaaSus at the snapshot: everything before the cut, in order.
    await clearProjection(c.app)
    for (let i = 0; i < cut; i++) await deliver(c.app, all[i])
    api.state = await saasusState(c.app)
    for (const e of all) await deliver(b.app, e)

    const early = order.filter(i => (i < cut ? fate[i] === 'early' : fate[i] !== 'late'))
    const late = order.filter(i => fate[i] === 'late')
    for (const i of early) await deliver(a.app, all[i])
    // The snapshot's version falls between the last event before the cut and the first after it.
    // Statistics refreshed after every chunk: the refresh between chunks changes nothing that is read.
    const reconciler = testReconciler(api.url, a.app.repository, { marginMs: Date.now() - (base + cut * 1000 - 500), chunkSize: 3, analyzeEveryMs: 0 })
    const result = await reconciler.run()
    if (result.outcome !== 'succeeded') throw new Error(`run ${result.outcome}: ${result.error ?? ''}`)
    for (const i of late) {
      const outcome = await deliver(a.app, all[i])
      if (i < cut && outcome !== 'stale') throw new Error(`late event ${i} before the snapshot was ${outcome}`)
    }
    t.same(await state(a.app, ns), await state(b.app, ns), `case ${round}`)
  }), { numRuns: RUNS })
})

/** The truth copy starts every case empty: its projected state is cleared (its inbox keeps the namespaced events). */
async function clearProjection (app: FastifyInstance): Promise<void> {
  for (const table of ['tenants', 'users', 'tenant_users', 'tenant_user_roles', 'roles', 'envs', 'attribute_values']) {
    await app.repository.prisma.$executeRawUnsafe(`DELETE FROM "${table}"`)
  }
}

/** A store that fails its `failAt`-th transaction of a run (a chunk, or the one raising the floor): a database error, or the run's process dying, there. */
class FailingStore extends ReconcileStore {
  transactions = 0
  failAt = 0
  override async chunk<T> (...args: Parameters<ReconcileStore['chunk']>): Promise<T> {
    this.#fail()
    return await super.chunk(...args) as T
  }

  override async raiseFloor (...args: Parameters<ReconcileStore['raiseFloor']>): Promise<boolean> {
    this.#fail()
    return await super.raiseFloor(...args)
  }

  #fail (): void {
    if (++this.transactions === this.failAt) throw new Error(`injected failure at transaction ${this.failAt}`)
  }
}

engineTest(t, `a run failed at any chunk, then every event delivered late: the copy reaches the in-order state (${Math.max(1, Math.floor(RUNS / 4))} histories, every chunk)`, async (t, engine) => {
  const api = await startSaasus(t)
  const env = { ...api.env, LOG_LEVEL: 'warn' }
  const [a, b, c] = [await buildApp(t, env, engine), await buildApp(t, env, engine), await buildApp(t, env, engine)]
  const start = Date.now() - 10 * 86_400_000
  let round = 0
  const store = new FailingStore(a.app.repository)
  const reconciler = (marginMs: number): Reconciler => testReconciler(api.url, a.app.repository, { store, marginMs })
  let failures = 0
  await fc.assert(fc.asyncProperty(scenario, async ({ ops, cut, fate, order }) => {
    // Fail at the 1st transaction, then the 2nd, ... until a run has fewer: every boundary of this history.
    for (let failAt = 1; ; failAt++) {
      round++
      const ns = `f${round}-`
      const base = start + round * 60_000
      const time = (i: number) => new Date(base + i * 1000).toISOString().replace('.000', '')
      const all = ops.map((o, i) => event(o, ns, time(i)))
      await clearProjection(c.app)
      for (let i = 0; i < cut; i++) await deliver(c.app, all[i])
      api.state = await saasusState(c.app)
      for (const e of all) await deliver(b.app, e)

      for (const i of order) if (i < cut ? fate[i] === 'early' : fate[i] !== 'late') await deliver(a.app, all[i])
      store.transactions = 0
      store.failAt = failAt
      const result = await reconciler(Date.now() - (base + cut * 1000 - 500)).run()
      // Every event, again or for the first time, in a shuffled order: the late deliveries of EventBridge.
      for (const i of order) await deliver(a.app, all[i])
      t.same(await state(a.app, ns), await state(b.app, ns), `case ${round}: failed at transaction ${failAt} (${result.outcome})`)
      if (result.outcome === 'succeeded') break
      failures++
      if (result.error === undefined || !result.error.includes(`injected failure at transaction ${failAt}`)) throw new Error(`unexpected: ${result.error ?? ''}`)
    }
  }), { numRuns: Math.max(1, Math.floor(RUNS / 4)) })
  t.ok(failures > 0, `${failures} failed runs`)
})
