import t from 'tap'
import type { FastifyInstance } from 'fastify'
import Database from 'better-sqlite3'
import { buildApp, deliver, getJson, postEvent, testConfig } from './helpers/app.js'
import { engineTest, pgClient, postgresql } from './helpers/engines.js'
import { applyMigrations, readMigrations } from '../src/db/migrations/migrate.js'
import { SQLITE_MIGRATIONS_DIR, sqliteFilePath } from '../src/db/engines/sqlite.js'
import { sqliteMigrationTarget } from '../src/db/migrations/sqlite-migration-target.js'
import { POSTGRESQL_MIGRATIONS_DIR } from '../src/db/engines/postgresql.js'
import { postgresqlMigrationTarget } from '../src/db/migrations/postgresql-migration-target.js'
import { postgresqlTarget } from '../src/postgresql-url.js'
import { events } from './helpers/events.js'
import { CONSOLE_PASSWORD, mainText, page, signIn } from './helpers/console.js'
import { saasus, startSaasus, emptyState } from './helpers/saasus.js'
import type { Entry } from './helpers/feed.js'
import { PlanActivator } from '../src/plans/activator.js'
import { PlanActivations } from '../src/db/plan-activations.js'
import { sqlite } from './helpers/engines.js'

// Plans as SaaSus reports them (src/events/plan-state.ts, src/plans/activator.ts), on both engines: an
// immediate change shows at once; a reservation shows from its instant in the read API and the console, and
// the change feed gets one entry (cause scheduled) when the activator records it, once; any delivery order
// and repeats give the same plan; a later event or a reconcile that replaces the reservation first wins; a
// restart after the instant records it at start; a replica that lost the race to record an instant records
// nothing (its write is the same row, kept once).

const BASE = Date.parse('2026-05-19T10:00:00Z')
const o = (second: number, id: string) => ({ time: new Date(BASE + second * 1000).toISOString(), id })
const sec = (second: number) => Math.floor(BASE / 1000) + second

/** A clock the test moves (Unix ms). */
function clock (second: number): { set: (s: number) => void, now: () => number } {
  let ms = BASE + second * 1000
  return { set: s => { ms = BASE + s * 1000 }, now: () => ms }
}

async function tenant (app: FastifyInstance, id: string): Promise<any> {
  const res = await getJson(app, `/tenants/${id}`)
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json()
}
const planOf = (view: any) => ({ plan_id: view.plan_id, plan_histories: view.plan_histories, next_plan: view.next_plan })

async function changes (app: FastifyInstance, after = 0): Promise<Entry[]> {
  const res = await getJson(app, `/changes?after=${after}&limit=1000`)
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json().entries
}

const reservation = (planId: string, from: number, extra: Record<string, unknown> = {}) =>
  ({ next_plan_id: planId, using_next_plan_from: from, next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null, ...extra })

engineTest(t, 'an immediate plan change shows at once, with its history entry and a feed entry', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, {}, engine, time.now)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  t.equal(await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-a', next_plan_tax_rate_id: 'tax-1', proration_behavior: 'none', delete_usage: false }, o(10, 'e2'))), 'applied')
  const view = await tenant(app, 't1')
  t.same(planOf(view), {
    plan_id: 'plan-a',
    plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(10), tax_rate_id: 'tax-1', proration_behavior: 'none', delete_usage: false }],
    next_plan: null
  })
  t.equal(view.updated_at, new Date(BASE + 10_000).toISOString())
  const entries = await changes(app, 1)
  t.match(entries, [{ entity: 'tenant', fields: { plan_id: 'plan-a', plan_histories: view.plan_histories }, cause: { kind: 'event', event_id: 'e2' } }])
  t.equal(await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-a' }, o(10, 'e2'))), 'duplicate')
  // A cancellation with no reservation pending changes nothing visible.
  t.equal(await deliver(app, events.updateTenantPlan('t1', {}, o(11, 'e3'))), 'applied')
  t.same(planOf(await tenant(app, 't1')), planOf(view))
  t.same(await changes(app, 2), [])
  // A plan change dated before a delete is stale; the tenant is gone.
  await deliver(app, events.deleteTenant('t1', o(20, 'e4')))
  t.equal(await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-z' }, o(15, 'e5'))), 'stale')
  t.equal((await getJson(app, '/tenants/t1')).statusCode, 404)
})

engineTest(t, 'a reservation shows from its instant (read API, lists, console); the feed gets one scheduled entry', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, { CONSOLE_PASSWORD }, engine, time.now)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-a' }, o(2, 'e2')))
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-b', using_next_plan_from: sec(3600), proration_behavior: 'create_prorations' }, o(3, 'e3')))
  const cookie = await signIn(app)
  const before = await tenant(app, 't1')
  t.same(planOf(before), {
    plan_id: 'plan-a',
    plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(2) }],
    next_plan: reservation('plan-b', sec(3600), { proration_behavior: 'create_prorations' })
  })
  t.match(mainText((await page(app, '/console/tenants/t1', cookie)).body), /Plan plan-a\s+Next plan plan-b from 2026-05-19T11:00:00.000Z/)
  t.equal(await app.planActivator.runDue(), 0, 'nothing due before the instant')
  const head = (await changes(app)).length

  time.set(3600)
  const after = await tenant(app, 't1')
  t.same(planOf(after), {
    plan_id: 'plan-b',
    plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(2) }, { plan_id: 'plan-b', plan_applied_at: sec(3600), proration_behavior: 'create_prorations' }],
    next_plan: null
  }, 'from the instant, before the activator recorded it')
  t.equal(after.updated_at, new Date(BASE + 3600_000).toISOString())
  t.same(planOf((await getJson(app, '/tenants')).json().items[0]), planOf(after), 'the list too')
  t.match(mainText((await page(app, '/console/tenants/t1', cookie)).body), /Plan plan-b\s+Last changed/)

  t.equal(await app.planActivator.runDue(), 1)
  const entries = (await changes(app)).slice(head)
  t.match(entries, [{
    entity: 'tenant',
    key: { id: 't1' },
    op: 'upsert',
    fields: { plan_id: 'plan-b', plan_histories: after.plan_histories, next_plan: null },
    cause: { kind: 'scheduled', time: '2026-05-19T11:00:00.000Z' }
  }])
  t.same(Object.keys(entries[0].fields!).sort(), ['next_plan', 'plan_histories', 'plan_id'])
  t.equal(await app.planActivator.runDue(), 0, 'once')
  time.set(7200)
  t.equal(await app.planActivator.runDue(), 0)
  t.equal((await changes(app)).length, head + 1, 'one entry')
  t.same(planOf(await tenant(app, 't1')), planOf(after))
  const row = await app.repository.prisma.tenant.findUniqueOrThrow({ where: { id: 't1' } })
  t.equal(row.planDueAt, null, 'nothing left due')
})

engineTest(t, 'any delivery order and repeats give the same plan, at every instant', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, {}, engine, time.now)
  // One history per tenant, delivered in a different order (with repeats) to each.
  const history = (id: string) => [
    events.createTenant(id, { name: 'A' }, o(1, `${id}-1`)),
    events.updateTenantPlan(id, { next_plan_id: 'plan-a' }, o(2, `${id}-2`)),
    events.updateTenantPlan(id, { next_plan_id: 'plan-b', using_next_plan_from: sec(100) }, o(3, `${id}-3`)),
    events.updateTenantPlan(id, { next_plan_id: 'plan-c', using_next_plan_from: sec(200), next_plan_tax_rate_id: 'tax' }, o(50, `${id}-4`)),
    events.updateTenantPlan(id, { next_plan_id: 'plan-d', using_next_plan_from: sec(400) }, o(250, `${id}-5`)),
    events.updateTenantPlan(id, {}, o(300, `${id}-6`)),
    events.updateTenantPlan(id, { next_plan_id: 'plan-e' }, o(350, `${id}-7`))
  ]
  const orders = [[0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0], [3, 0, 6, 1, 5, 2, 4], [2, 2, 4, 0, 4, 6, 1, 3, 5, 0]]
  const ids = orders.map((_, i) => `t${i}`)
  // Delivered at the end, when every instant has passed; and the activator recording some on the way.
  for (const [i, order] of orders.entries()) {
    const h = history(ids[i])
    for (const [n, k] of order.entries()) {
      await postEvent(app, h[k])
      if (i === 3 && n === 5) { time.set(250); await app.planActivator.runDue() }
    }
  }
  const expected = {
    plan_id: 'plan-e',
    plan_histories: [
      { plan_id: 'plan-a', plan_applied_at: sec(2) },
      { plan_id: 'plan-c', plan_applied_at: sec(200), tax_rate_id: 'tax' },
      { plan_id: 'plan-e', plan_applied_at: sec(350) }
    ],
    next_plan: null
  }
  for (const s of [250, 400, 1000]) {
    time.set(s)
    for (const id of ids) t.same(planOf(await tenant(app, id)), expected, `${id} at +${s} s`)
  }
  await app.planActivator.runDue()
  for (const id of ids) t.same(planOf(await tenant(app, id)), expected, `${id} after the activator`)

  // Read at each instant in between (in-order delivery of a prefix is what SaaSus showed then).
  time.set(150)
  const { app: other } = await buildApp(t, {}, engine, time.now)
  for (const e of history('x').slice(0, 4)) await postEvent(other, e)
  t.same(planOf(await tenant(other, 'x')), { plan_id: 'plan-a', plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(2) }], next_plan: reservation('plan-c', sec(200), { next_plan_tax_rate_id: 'tax' }) },
    'plan-b was replaced before its instant: it never takes effect')
})

engineTest(t, 'an event dated before the instant that arrives after it was recorded still wins; a later reservation replaces an earlier one', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, {}, engine, time.now)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-a' }, o(2, 'e2')))
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-b', using_next_plan_from: sec(100) }, o(3, 'e3')))
  time.set(120)
  t.equal(await app.planActivator.runDue(), 1)
  t.equal((await tenant(app, 't1')).plan_id, 'plan-b')
  const head = (await changes(app)).length
  // Delivered late: the reservation was cancelled at +50 s, before its instant. SaaSus never switched.
  t.equal(await deliver(app, events.updateTenantPlan('t1', {}, o(50, 'e4'))), 'applied')
  t.same(planOf(await tenant(app, 't1')), { plan_id: 'plan-a', plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(2) }], next_plan: null })
  t.match((await changes(app)).slice(head), [{ fields: { plan_id: 'plan-a', plan_histories: [{ plan_id: 'plan-a' }] }, cause: { kind: 'event', event_id: 'e4' } }])

  // A reservation replaced by a later one before its instant: only the later one takes effect.
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-c', using_next_plan_from: sec(300) }, o(130, 'e5')))
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-d', using_next_plan_from: sec(500) }, o(140, 'e6')))
  time.set(400)
  t.equal(await app.planActivator.runDue(), 0)
  t.equal((await tenant(app, 't1')).plan_id, 'plan-a')
  time.set(500)
  t.equal(await app.planActivator.runDue(), 1)
  t.equal((await tenant(app, 't1')).plan_id, 'plan-d')
})

engineTest(t, 'a restart after the instant records it at start', async (t, engine) => {
  const time = clock(0)
  const config = testConfig(t, {}, engine)
  const first = await buildApp(t, {}, config, time.now)
  await deliver(first.app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  await deliver(first.app, events.updateTenantPlan('t1', { next_plan_id: 'plan-b', using_next_plan_from: sec(60) }, o(2, 'e2')))
  await first.app.close()
  time.set(120)
  const { app, logs } = await buildApp(t, {}, config, time.now)
  for (let i = 0; i < 200 && !(await changes(app)).some(e => e.cause.kind === 'scheduled'); i++) await new Promise(resolve => setTimeout(resolve, 25))
  t.match((await changes(app)).filter(e => e.cause.kind === 'scheduled'), [{ fields: { plan_id: 'plan-b' }, cause: { time: new Date(BASE + 60_000).toISOString() } }])
  t.match(logs(), /"activated":1,"msg":"reserved plans took effect"/)
})

engineTest(t, 'a reconcile: one that cancels a reservation first wins; one after the instant does not fight the activator', async (t, engine) => {
  // On the real clock: snapshots are dated by it (less RECONCILE_MARGIN, 60 s).
  const now = Math.floor(Date.now() / 1000) * 1000
  let ms = now
  const at = (s: number, id: string) => ({ time: new Date(now + s * 1000).toISOString(), id })
  const secs = (s: number) => now / 1000 + s
  const api = await startSaasus(t, emptyState())
  const { app } = await buildApp(t, api.env, engine, () => ms)
  for (const id of ['t1', 't2']) {
    await deliver(app, events.createTenant(id, { name: `name-${id}`, back_office_staff_email: `staff@${id}.example` }, at(-600, `${id}-1`)))
    await deliver(app, events.updateTenantPlan(id, { next_plan_id: 'plan-a' }, at(-590, `${id}-2`)))
  }
  const history = (id: string) => [{ plan_id: 'plan-a', plan_applied_at: secs(-590) }]
  // t1's reservation, which SaaSus shows; t2's, cancelled in SaaSus by a call whose event never came.
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-b', using_next_plan_from: secs(60) }, at(-580, 't1-3')))
  await deliver(app, events.updateTenantPlan('t2', { next_plan_id: 'plan-c', using_next_plan_from: secs(60) }, at(-580, 't2-3')))
  const reserved = { plan_id: 'plan-a', plan_histories: history('t1'), next_plan_id: 'plan-b', using_next_plan_from: secs(60), next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null }
  api.state.tenants = [saasus.tenant('t1', reserved), saasus.tenant('t2', { plan_id: 'plan-a', plan_histories: history('t2') })]
  t.match(await app.reconciler!.run(), { outcome: 'succeeded', drift: { tenants: { unchanged: 1, updated: 1 } } })
  t.same(planOf(await tenant(app, 't2')), { plan_id: 'plan-a', plan_histories: history('t2'), next_plan: null }, 'the reconcile cancelled it')

  ms = now + 61_000
  t.equal(await app.planActivator.runDue(), 1, 't1 only')
  const switched = planOf(await tenant(app, 't1'))
  t.same(switched, { plan_id: 'plan-b', plan_histories: [...history('t1'), { plan_id: 'plan-b', plan_applied_at: secs(60) }], next_plan: null })
  t.same(planOf(await tenant(app, 't2')), { plan_id: 'plan-a', plan_histories: history('t2'), next_plan: null }, 'never takes effect')
  const head = (await changes(app)).length
  // SaaSus still showing the reservation (a snapshot dated before the instant) or showing the switch: the
  // same plan once carried to now, nothing written.
  t.match(await app.reconciler!.run(), { drift: { tenants: { unchanged: 2 } } }, 'the snapshot carried to now is what shows')
  api.state.tenants[0] = saasus.tenant('t1', { plan_id: 'plan-b', plan_histories: switched.plan_histories })
  t.match(await app.reconciler!.run(), { drift: { tenants: { unchanged: 2 } } })
  t.equal((await changes(app)).length, head, 'no entry')
  t.same(planOf(await tenant(app, 't1')), switched)
})

engineTest(t, 'a tenant listed as due that is not (nothing reserved) is taken off the list', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, {}, engine, time.now)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  await app.repository.prisma.tenant.update({ where: { id: 't1' }, data: { planDueAt: BigInt(BASE) } })
  t.equal(await app.planActivator.runDue(), 0)
  t.equal((await app.repository.prisma.tenant.findUniqueOrThrow({ where: { id: 't1' } })).planDueAt, null)
})

engineTest(t, 'reservations stored before the upgrade take effect at their instant', async (t, engine) => {
  const config = testConfig(t, {}, engine)
  const before = (dir: string) => readMigrations(dir).filter(m => m.name < '20261207100000')
  const reserved = JSON.stringify(reservation('plan-b', sec(60)))
  // What the earlier version wrote for a reservation, and for an immediate change (stored as one with no instant).
  const v1 = `00${BASE + 1000}:0:e1`
  const v2 = `00${BASE + 2000}:1:e2`
  const rows = `INSERT INTO "tenants" ("id", "live", "live_v", "name", "name_v", "next_plan", "next_plan_v") VALUES
    ('t1', true, '${v1}', 'A', '${v1}', '${reserved}', '${v2}'), ('t2', true, '${v1}', 'B', '${v1}', '${JSON.stringify(reservation('plan-c', null as never))}', '${v2}')`
  if (engine === postgresql) {
    const db = await pgClient(t, config.DATABASE_URL)
    await db.query(`CREATE SCHEMA "${postgresqlTarget(config.DATABASE_URL).schema}"`)
    await applyMigrations(postgresqlMigrationTarget(db), before(POSTGRESQL_MIGRATIONS_DIR))
    await db.query(rows)
  } else {
    const db = new Database(sqliteFilePath(config.DATABASE_URL))
    await applyMigrations(sqliteMigrationTarget(db), before(SQLITE_MIGRATIONS_DIR))
    db.exec(rows)
    db.close()
  }
  const time = clock(30)
  const { app } = await buildApp(t, {}, config, time.now)
  t.equal((await tenant(app, 't1')).plan_id, null)
  t.same((await tenant(app, 't2')).next_plan, null, 'no instant: not a reservation')
  t.equal(Number((await app.repository.prisma.tenant.findUniqueOrThrow({ where: { id: 't1' } })).planDueAt), (BASE / 1000 + 60) * 1000)
  t.equal((await app.repository.prisma.tenant.findUniqueOrThrow({ where: { id: 't2' } })).planDueAt, null)
  time.set(60)
  t.equal(await app.planActivator.runDue(), 1)
  t.match(await tenant(app, 't1'), { plan_id: 'plan-b', plan_histories: [{ plan_id: 'plan-b', plan_applied_at: sec(60) }], next_plan: null })
})

engineTest(t, 'on a running service a reservation is recorded at its instant; one recorded meanwhile elsewhere is not recorded again', async (t, engine) => {
  // A clock running from BASE at real speed.
  const start = Date.now()
  const { app } = await buildApp(t, {}, engine, () => BASE + (Date.now() - start))
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(0, 'e1')))
  const elapsed = Math.ceil((Date.now() - start) / 1000)
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-b', using_next_plan_from: sec(elapsed + 1) }, o(0, 'e2')))
  let scheduled: Entry[] = []
  for (let i = 0; i < 100 && scheduled.length === 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    scheduled = (await changes(app)).filter(e => e.cause.kind === 'scheduled')
  }
  t.match(scheduled, [{ fields: { plan_id: 'plan-b' } }], 'recorded by the service itself, at the instant (not the 10 s poll)')

  // Another replica recorded the instant (its row is there) before this one's look read the tenant's plan.
  await deliver(app, events.updateTenantPlan('t1', { next_plan_id: 'plan-c', using_next_plan_from: sec(3600) }, o(10, 'e3')))
  const row = await app.repository.prisma.tenant.findUniqueOrThrow({ where: { id: 't1' } })
  const state = row.planState as any
  const activations = new PlanActivations(app.repository)
  const { activationOf } = await import('../src/events/plan-state.js')
  const activation = activationOf(state)!
  await app.repository.prisma.tenantPlanChange.create({ data: { tenantId: 't1', v: activation.v, change: activation.op as any } })
  const head = (await changes(app)).length
  t.equal(await activations.activate('t1', BASE + 3600_000), 'already')
  t.equal((await changes(app)).length, head, 'no second entry')
  t.equal(await activations.activate('nobody', BASE), 'not_due')
})

engineTest(t, 'the activator: pages of due tenants; one that fails is left due and logged; stopping leaves the rest', async (t, engine) => {
  const time = clock(0)
  const { app } = await buildApp(t, {}, engine, time.now)
  await app.planActivator.stop()
  for (const id of ['t1', 't2', 't3']) {
    await deliver(app, events.createTenant(id, { name: id }, o(1, `${id}-1`)))
    await deliver(app, events.updateTenantPlan(id, { next_plan_id: 'plan-b', using_next_plan_from: sec(10) }, o(2, `${id}-2`)))
  }
  const lines: string[] = []
  const log = { info: (_: object, m: string) => { lines.push(m) }, warn: (f: object, m: string) => { lines.push(`${m} ${JSON.stringify(f)}`) } }
  const activator = (pageSize?: number) => new PlanActivator(new PlanActivations(app.repository), { now: time.now, pollMs: 60_000, log, pageSize })
  time.set(10)

  const stopped = activator(2)
  const run = stopped.runDue()
  await stopped.stop()
  t.equal(await run, 0, 'stopped before its first activation')

  const { prisma } = app.repository
  await prisma.$executeRawUnsafe('ALTER TABLE "tenant_plan_changes" RENAME TO "moved"')
  t.equal(await activator(2).runDue(), 0)
  t.equal(lines.filter(l => l.startsWith('a reserved plan could not be recorded as taken effect')).length, 3, 'each tried once, then left')
  t.match(lines[0], /"tenantId":"t\d"/)
  await prisma.$executeRawUnsafe('ALTER TABLE "moved" RENAME TO "tenant_plan_changes"')

  // The look and the soonest instant both fail: logged, and looked at again later.
  await prisma.$executeRawUnsafe('ALTER TABLE "tenants" RENAME TO "moved"')
  lines.length = 0
  const broken = activator()
  broken.start()
  for (let i = 0; i < 100 && lines.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
  await broken.stop()
  t.same(lines.map(l => l.split(' {')[0]), ['could not look for reserved plans due', 'could not look for reserved plans due'])
  await prisma.$executeRawUnsafe('ALTER TABLE "moved" RENAME TO "tenants"')

  t.equal(await activator(2).runDue(), 3, 'two pages')
  for (const id of ['t1', 't2', 't3']) t.equal((await tenant(app, id)).plan_id, 'plan-b')
}, [sqlite])
