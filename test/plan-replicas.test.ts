import t from 'tap'
import { buildApp, deliver, getJson, testConfig, type Teardown } from './helpers/app.js'
import { engineTest, postgresql } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { startServer, type ServerProcess } from './helpers/process.js'
import { PlanActivator } from '../src/plans/activator.js'
import { PlanActivations } from '../src/db/plan-activations.js'
import { PLAN_POLL_MS } from '../src/plugins/plans.js'

// Issue 23: replicas on one PostgreSQL database record a reserved plan taking effect once between them (one
// change feed entry, cause `scheduled`), whichever replica looks first, and a restart records nothing again.
// Real server processes on the real clock, and two in-process apps whose activators run at the same moment.

const KEY = 'plan-replicas-test-key-0123456789'
const TENANTS = ['p0', 'p1', 'p2', 'p3', 'p4']

t.setTimeout(300_000)

interface Replica { server: ServerProcess, port: number }

/** Replicas of server.ts started at once (they migrate a fresh schema under the advisory lock), stopped at teardown. */
async function startReplicas (t: Teardown, databaseUrl: string, count: number): Promise<Replica[]> {
  const env = { API_KEYS: KEY, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', PORT: '0', PG_POOL_MAX: '3', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }
  const servers = Array.from({ length: count }, () => startServer(env))
  t.teardown(async () => { await stopReplicas(servers) })
  return await Promise.all(servers.map(async server => {
    for (let i = 0; i < 1200; i++) {
      const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())
      if (match !== null) return { server, port: Number(match[1]) }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`server did not start:\n${server.output()}`)
  }))
}

async function stopReplicas (servers: ServerProcess[]): Promise<void> {
  for (const s of servers) s.kill('SIGTERM')
  await Promise.all(servers.map(async s => await s.exit))
}

async function get (replica: Replica, url: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${replica.port}${url}`, { headers: { 'x-api-key': KEY } })
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`)
  return await res.json()
}

async function post (replica: Replica, event: unknown): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${replica.port}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': KEY, 'user-agent': 'Amazon/EventBridge/ApiDestinations' },
    body: JSON.stringify(event)
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST /events: ${res.status} ${text}`)
  return JSON.parse(text).results[0].outcome
}

/** The scheduled feed entries per tenant, as a replica serves them. */
async function scheduled (replica: Replica): Promise<Record<string, number>> {
  const entries = (await get(replica, '/changes?limit=1000')).entries as Array<{ entity: string, key: { id: string }, cause: { kind: string } }>
  const out: Record<string, number> = {}
  for (const e of entries) if (e.cause.kind === 'scheduled') out[e.key.id] = (out[e.key.id] ?? 0) + 1
  return out
}

/** How many activations each replica's log says it recorded. */
const activated = (r: Replica): number =>
  [...r.server.output().matchAll(/"activated":(\d+),"msg":"reserved plans took effect"/g)].reduce((sum, m) => sum + Number(m[1]), 0)
const errors = (replicas: Replica[]): string[] => replicas.flatMap(r => r.server.output().split('\n').filter(line => /"level":(50|60)/.test(line)))
const once = Object.fromEntries(TENANTS.map(id => [id, 1]))
const iso = (ms: number): string => new Date(ms).toISOString()

engineTest(t, 'two replicas that both look at a reservation\'s instant record it once; a restart records nothing again', async t => {
  const databaseUrl = postgresql.databaseUrl(t)
  const replicas = await startReplicas(t, databaseUrl, 2)
  const [a, b] = replicas
  // The instant: whole seconds (using_next_plan_from), a few ahead of the deliveries below.
  const instant = Math.ceil(Date.now() / 1000) + 4
  for (const id of TENANTS) {
    t.equal(await post(a, events.createTenant(id, { name: id }, { time: iso(Date.now() - 2000) })), 'applied')
    // Each replica takes a reservation of the same instant (SaaSus's call, and the same call again a second
    // later), so each wakes at the instant itself: both activators run then, not one at its next poll.
    const reserve = { next_plan_id: 'plan-next', using_next_plan_from: instant }
    t.equal(await post(a, events.updateTenantPlan(id, reserve, { time: iso(Date.now() - 1000) })), 'applied')
    t.equal(await post(b, events.updateTenantPlan(id, reserve, { time: iso(Date.now()) })), 'applied')
  }
  for (const r of replicas) t.equal((await get(r, `/tenants/${TENANTS[0]}`)).plan_id, null, 'not yet')

  // Past the instant and a whole poll: every activator has looked since the instant, at least once.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, instant * 1000 - Date.now()) + PLAN_POLL_MS + 2000))
  for (const r of replicas) {
    t.same(await scheduled(r), once, `one scheduled entry per tenant, read from :${r.port}`)
    for (const id of TENANTS) t.match(await get(r, `/tenants/${id}`), { plan_id: 'plan-next', next_plan: null })
  }
  t.equal(activated(a) + activated(b), TENANTS.length, 'each activation recorded by one replica')
  t.comment(`activations recorded: ${activated(a)} by one replica, ${activated(b)} by the other`)

  // Restarted (the activators run at start, and poll): still one entry per tenant.
  await stopReplicas(replicas.map(r => r.server))
  const again = await startReplicas(t, databaseUrl, 2)
  await new Promise(resolve => setTimeout(resolve, 3000))
  for (const r of again) t.same(await scheduled(r), once, `after the restart, read from :${r.port}`)
  t.equal(activated(again[0]) + activated(again[1]), 0)
  t.same(errors([...replicas, ...again]), [], 'no replica logged an error')
}, [postgresql])

engineTest(t, 'reservations that fell due while no replica ran: two replicas started at once record each once', async t => {
  const databaseUrl = postgresql.databaseUrl(t)
  // Written by an app whose clock stands before the instant (its activator finds nothing due), then closed.
  const written = Date.now() - 20 * 60_000
  const instant = Math.floor(Date.now() / 1000) - 10
  const config = testConfig(t, { LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl }, postgresql)
  const { app } = await buildApp(t, {}, config, () => written)
  for (const id of TENANTS) {
    t.equal(await deliver(app, events.createTenant(id, { name: id }, { time: iso(written - 2000) })), 'applied')
    t.equal(await deliver(app, events.updateTenantPlan(id, { next_plan_id: 'plan-next', using_next_plan_from: instant }, { time: iso(written - 1000) })), 'applied')
  }
  await app.close()

  const replicas = await startReplicas(t, databaseUrl, 2)
  for (let i = 0; i < 100 && activated(replicas[0]) + activated(replicas[1]) < TENANTS.length; i++) await new Promise(resolve => setTimeout(resolve, 100))
  await new Promise(resolve => setTimeout(resolve, 2000)) // and any late second look
  for (const r of replicas) {
    t.same(await scheduled(r), once, `one scheduled entry per tenant, read from :${r.port}`)
    for (const id of TENANTS) t.match(await get(r, `/tenants/${id}`), { plan_id: 'plan-next', plan_histories: [{ plan_id: 'plan-next', plan_applied_at: instant }] })
  }
  t.equal(activated(replicas[0]) + activated(replicas[1]), TENANTS.length)
  t.comment(`activations recorded: ${activated(replicas[0])} by one replica, ${activated(replicas[1])} by the other`)
  t.same(errors(replicas), [], 'no replica logged an error')
}, [postgresql])

engineTest(t, 'two activators on one database looking at the same moment: every activation recorded by exactly one', async t => {
  const BASE = Date.parse('2026-05-19T10:00:00Z')
  let ms = BASE
  const now = (): number => ms
  const config = testConfig(t, { LOG_LEVEL: 'warn' }, postgresql)
  const apps = [(await buildApp(t, {}, config, now)).app, (await buildApp(t, {}, config, now)).app]
  for (const app of apps) await app.planActivator.stop()
  // Two sets: one falls due at +60 s (both activators walk the due list), the other at +600 s (both record
  // each tenant at once).
  const walked = Array.from({ length: 20 }, (_, k) => `w${k}`)
  const raced = Array.from({ length: 20 }, (_, k) => `r${k}`)
  for (const id of [...walked, ...raced]) {
    await deliver(apps[k(id)], events.createTenant(id, { name: id }, { time: iso(BASE + 1000) }))
    const from = BASE / 1000 + (walked.includes(id) ? 60 : 600)
    await deliver(apps[k(id)], events.updateTenantPlan(id, { next_plan_id: 'plan-next', using_next_plan_from: from }, { time: iso(BASE + 2000) }))
  }
  const log = { info: () => {}, warn: (fields: object, message: string) => { t.fail(`${message} ${JSON.stringify(fields)}`) } }
  const scheduledIds = async (): Promise<string[]> =>
    (await getJson(apps[1], '/changes?limit=1000')).json().entries.filter((e: any) => e.cause.kind === 'scheduled').map((e: any) => e.key.id).sort()

  ms = BASE + 120_000
  // Small pages, so that the two walk the due list side by side.
  const activators = apps.map(app => new PlanActivator(new PlanActivations(app.repository), { now, pollMs: 60_000, log, pageSize: 4 }))
  const counts = await Promise.all(activators.map(async a => await a.runDue()))
  t.equal(counts[0] + counts[1], walked.length, `${counts[0]} + ${counts[1]} activations`)
  t.same(await scheduledIds(), [...walked].sort(), 'one scheduled entry per tenant')

  ms = BASE + 700_000
  const outcomes = await Promise.all(raced.map(async id => await Promise.all(apps.map(async app => await new PlanActivations(app.repository).activate(id, ms)))))
  for (const [i, pair] of outcomes.entries()) {
    t.equal(pair.filter(o => o === 'activated').length, 1, `${raced[i]}: ${pair.join(', ')}`)
  }
  const tally = outcomes.flat().reduce<Record<string, number>>((all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }), {})
  t.comment(`outcomes of ${raced.length} tenants recorded by both at once: ${JSON.stringify(tally)}`)
  t.same(await scheduledIds(), [...walked, ...raced].sort(), 'one scheduled entry per tenant')
  t.same(await Promise.all(activators.map(async a => await a.runDue())), [0, 0], 'a later look records nothing')
  for (const app of apps) for (const id of [walked[0], raced[0]]) t.equal((await getJson(app, `/tenants/${id}`)).json().plan_id, 'plan-next')
}, [postgresql])

/** Which of two apps a tenant's events go to. */
const k = (id: string): number => Number(id.slice(1)) % 2
