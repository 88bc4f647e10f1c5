import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { buildApp, getJson, postEvent, type Teardown } from './helpers/app.js'
import { engineTest, pgClient, postgresql, sqlite } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { freePort } from './helpers/process.js'

// Four receiver processes on one PostgreSQL schema, as replicas behind a load balancer, take a shuffled,
// repeated history from many concurrent clients: conflicting writes to a few tenants and users in the same
// seconds, deletes and re-creates, memberships, roles, attribute edits, single events and batches. No
// request may fail with a 500 (a 503 is retried, as EventBridge does), the state read back from every
// replica must equal in-order delivery of the same history to one SQLite app, and the inbox must hold each
// distinct event exactly once.

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url))
const KEY = 'replicas-test-key-0123456789'
const REPLICAS = 4
const CLIENTS = 24
const DISTINCT = 2000
const REPEAT_SHARE = 0.2
const SECONDS = 100 // the history's span: about 20 events per second, so same-second ties are everywhere
const MAX_ATTEMPTS = 30 // per request: a 503 (or a dropped connection) is sent again, at most this often
const IN_ORDER_BATCH = 20
const BASE = Date.parse('2026-05-19T10:00:00Z')

const TENANTS = ['t0', 't1', 't2']
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4']
const ENVS = [1, 2]
const ROLES = ['admin', 'editor', 'viewer']

// A fixed-seed generator (mulberry32): the same history and delivery plan in every run.
let seed = 20261127
function random (): number {
  seed = (seed + 0x6D2B79F5) | 0
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]
const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1))
const attributes = (): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of ['a', 'b', 'c']) if (random() < 0.5) out[key] = pick([0, 1, 2, 'x', 'y', null])
  return out
}
const roles = (): string[] => ROLES.filter(() => random() < 0.5)

type Event = Record<string, any>
type O = { time: string }

/** One random call, weighted towards conflicting edits of the same few rows. */
const steps: Array<[number, (o: O) => Event]> = [
  [8, o => events.createTenant(pick(TENANTS), { name: pick(['n1', 'n2', 'n3']), attributes: attributes() }, o)],
  [14, o => events.updateTenant(pick(TENANTS), { name: pick(['n1', 'n2', 'n3', 'n4']), attributes: attributes(), back_office_staff_email: pick(['a@x', 'b@x']) }, o)],
  [4, o => events.deleteTenant(pick(TENANTS), o)],
  [3, o => events.updateTenantPlan(pick(TENANTS), random() < 0.3 ? {} : { next_plan_id: pick(['plan-a', 'plan-b']), using_next_plan_from: int(1790000000, 1790000099) }, o)],
  [3, o => events.updateTenantBillingInfo(pick(TENANTS), pick(['ACME', 'Initech']), o)],
  [8, o => events.createUser(pick(USERS), { email: `${pick(['c1', 'c2'])}@x`, attributes: attributes() }, o)],
  [10, o => events.updateUserEmail(pick(USERS), `${pick(['e1', 'e2', 'e3'])}@y`, o)],
  [5, o => events.updateUserSignInId(pick(USERS), pick(['s1', 's2']), o)],
  [10, o => events.updateUserAttributes(pick(USERS), attributes(), o)],
  [4, o => events.deleteUser(pick(USERS), o)],
  [1, o => events.updateUserPassword(pick(USERS), o)],
  [8, o => events.createTenantUser(pick(TENANTS), pick(USERS), attributes(), [{ id: pick(ENVS), roles: roles() }], o)],
  [8, o => events.updateTenantUser(pick(TENANTS), pick(USERS), attributes(), o)],
  [4, o => events.deleteTenantUser(pick(TENANTS), pick(USERS), o)],
  [8, o => events.createTenantUserRoles(pick(TENANTS), pick(USERS), pick(ENVS), [pick(ROLES), ...roles()].filter((r, i, all) => all.indexOf(r) === i), o)],
  [6, o => events.deleteTenantUserRole(pick(TENANTS), pick(USERS), pick(ENVS), pick(ROLES), o)],
  // A failed call: recorded, changes nothing.
  [1, o => events.updateTenant(pick(TENANTS), { name: 'failed' }, { ...o, httpStatus: 400 })]
]
const totalWeight = steps.reduce((sum, [w]) => sum + w, 0)
function randomEvent (o: O): Event {
  let r = random() * totalWeight
  for (const [w, make] of steps) { r -= w; if (r < 0) return make(o) }
  return steps[steps.length - 1][1](o)
}

/**
 * The history: envelope ids that sort like the positions (`numbered` in convergence.test.ts), so a
 * same-second tie has the same winner in the in-order and the shuffled delivery.
 */
function history (): Event[] {
  return Array.from({ length: DISTINCT }, (_, k) => {
    const time = new Date(BASE + int(0, SECONDS - 1) * 1000).toISOString().replace('.000', '')
    return { ...randomEvent({ time }), id: `evt-${String(k).padStart(5, '0')}` }
  })
}

function shuffle<T> (items: T[]): T[] {
  for (let k = items.length - 1; k > 0; k--) {
    const r = Math.floor(random() * (k + 1));
    [items[k], items[r]] = [items[r], items[k]]
  }
  return items
}

/** Cuts a list into requests: mostly single events, about a quarter JSON arrays of 2 to 6. */
function cut (list: Event[]): Event[][] {
  const requests: Event[][] = []
  for (let k = 0; k < list.length;) {
    const size = random() < 0.25 ? int(2, 6) : 1
    requests.push(list.slice(k, k + size))
    k += size
  }
  return requests
}

/**
 * The delivery plan: the history shuffled and cut into requests; then a repeat of REPEAT_SHARE of the
 * events, half of them as a single request right after the original's (so that the next client sends it to
 * the next replica at the same moment), half in requests of their own at random places.
 */
function plan (list: Event[]): { requests: Event[][], repeats: number } {
  const requests = cut(shuffle([...list]))
  const chosen = shuffle([...list]).slice(0, Math.round(list.length * REPEAT_SHARE))
  const adjacent = chosen.slice(0, chosen.length / 2)
  const scattered = cut(chosen.slice(chosen.length / 2))
  const after = new Map<string, Event[][]>()
  for (const e of adjacent) after.set(e.id, [[e]])
  const out: Event[][] = []
  for (const request of requests) {
    out.push(request)
    for (const e of request) out.push(...(after.get(e.id) ?? []))
  }
  for (const request of scattered) out.splice(int(0, out.length), 0, request)
  return { requests: out, repeats: chosen.length }
}


interface Replica { port: number, output: () => string, stop: () => Promise<number | null> }

/**
 * server.ts as a real process on a port picked here (LOG_LEVEL=warn logs no "Server listening" line),
 * ready once /readyz answers 200. It always dies at teardown: SIGTERM, then SIGKILL after 5 s.
 */
async function startReplica (t: Teardown, env: Record<string, string>): Promise<Replica> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import=tsx', SERVER], {
      // Only ever 127.0.0.1.
      env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', d => { output += String(d) })
    child.stderr.on('data', d => { output += String(d) })
    const exit = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    let exited = false
    void exit.then(() => { exited = true })
    const stop = async (): Promise<number | null> => {
      if (exited) return await exit
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      const code = await exit
      clearTimeout(timer)
      return code
    }
    t.teardown(stop)
    for (let i = 0; i < 600 && !exited; i++) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(res => res.status, () => 0)
      if (ready === 200) return { port, output: () => output, stop }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await stop()
    // Another process may have taken the port between freePort and listen: try another one.
    if (!output.includes('EADDRINUSE') || attempt === 3) throw new Error(`replica did not start:\n${output}`)
  }
}

/** The read API's whole state: every page of /tenants and /users. */
async function state (get: (url: string) => Promise<{ status: number, body: any }>): Promise<unknown> {
  const all = async (path: string): Promise<unknown[]> => {
    const items: unknown[] = []
    let cursor: string | null = null
    do {
      const res = await get(`${path}?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`)
      items.push(...res.body.items)
      cursor = res.body.next_cursor
    } while (cursor !== null)
    return items
  }
  return { tenants: await all('/tenants'), users: await all('/users') }
}

const overHttp = (port: number) => async (url: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { headers: { 'x-api-key': KEY } })
  return { status: res.status, body: await res.json() }
}
const injected = (app: FastifyInstance) => async (url: string) => {
  const res = await getJson(app, url)
  return { status: res.statusCode, body: res.json() }
}

engineTest(t, `${REPLICAS} replicas on one database converge under concurrent, repeated, shuffled delivery`, async t => {
  const list = history()
  const { requests, repeats } = plan(list)
  const distinct = new Set(list.map(e => e.id))
  t.equal(distinct.size, DISTINCT)

  const DATABASE_URL = postgresql.databaseUrl(t)
  const env = {
    API_KEYS: KEY,
    DATABASE_URL,
    LOG_LEVEL: 'warn',
    // 4 × (5 + 1) connections, well under max_connections with the other test files running.
    PG_POOL_MAX: '5',
    // Parallel test files on two cores look like event-loop lag; the pressure tests cover it.
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    RETRY_AFTER_SECONDS: '1'
  }
  // Started together: they migrate the fresh schema at once, under the advisory lock.
  const mark = Date.now()
  const starting = Promise.all(Array.from({ length: REPLICAS }, async () => await startReplica(t, env)))
  starting.catch(() => {}) // awaited below

  // The in-order state, from one in-process SQLite app while the replicas start: the history sorted by
  // (time, envelope id), sent one request after another as arrays of IN_ORDER_BATCH consecutive events
  // (one by one takes ~10 ms an event on this machine, most of the test's budget).
  const { app } = await buildApp(t, { LOG_LEVEL: 'warn', SQLITE_SYNCHRONOUS: 'OFF', BATCH_MAX_WAIT_MS: '0' }, sqlite)
  const timeline = [...list].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id))
  for (let k = 0; k < timeline.length; k += IN_ORDER_BATCH) {
    const res = await postEvent(app, timeline.slice(k, k + IN_ORDER_BATCH))
    if (res.statusCode !== 200) throw new Error(`in-order delivery: ${res.statusCode} ${res.body}`)
    for (const r of res.json().results) if (r.outcome === 'rejected' || r.outcome === 'duplicate') throw new Error(`in-order delivery: ${JSON.stringify(r)}`)
  }
  const expected = await state(injected(app))
  const reference = Date.now() - mark
  const replicas = await starting
  t.comment(`in-order reference: ${(reference / 1000).toFixed(1)} s; replicas ready after ${((Date.now() - mark) / 1000).toFixed(1)} s`)

  // Concurrent clients, each taking the next request and sending it to the next replica in turn.
  const outcomes = new Map<string, string[]>()
  const retried = new Set<string>() // ids in a request that got a 503: it may have committed anyway
  const failures: string[] = []
  let unavailable = 0
  let dropped = 0
  let next = 0
  const send = async (n: number, batch: Event[]): Promise<void> => {
    const body = JSON.stringify(batch.length === 1 ? batch[0] : batch)
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const port = replicas[(n + attempt - 1) % REPLICAS].port
      let res: Response
      try {
        res = await fetch(`http://127.0.0.1:${port}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': KEY, 'user-agent': 'Amazon/EventBridge/ApiDestinations' },
          body,
          signal: AbortSignal.timeout(10_000)
        })
      } catch {
        dropped++
        for (const e of batch) retried.add(e.id)
        await new Promise(resolve => setTimeout(resolve, 20 * attempt))
        continue
      }
      const text = await res.text()
      if (res.status === 503) {
        unavailable++
        for (const e of batch) retried.add(e.id)
        await new Promise(resolve => setTimeout(resolve, 20 * attempt + random() * 20))
        continue
      }
      if (res.status !== 200) { failures.push(`request ${n} on :${port}: ${res.status} ${text}`); return }
      for (const r of JSON.parse(text).results) {
        const seen = outcomes.get(r.id) ?? []
        seen.push(r.outcome)
        outcomes.set(r.id, seen)
      }
      return
    }
    failures.push(`request ${n}: no 200 after ${MAX_ATTEMPTS} attempts`)
  }
  const started = Date.now()
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < requests.length) {
      const n = next++
      await send(n, requests[n])
    }
  }))
  const seconds = (Date.now() - started) / 1000
  const deliveries = requests.reduce((sum, r) => sum + r.length, 0)
  const batches = requests.filter(r => r.length > 1).length
  t.comment(`${DISTINCT} events + ${repeats} repeats = ${deliveries} deliveries in ${requests.length} requests (${batches} batches), ` +
    `${CLIENTS} clients, ${REPLICAS} replicas: ${seconds.toFixed(1)} s, ${Math.round(deliveries / seconds)} events/s; ` +
    `${unavailable} answers 503 and ${dropped} dropped connections, retried`)

  // 1. Every request ends with 200: no 500, nothing else.
  t.same(failures, [], 'every request answered 200 (after retrying 503s)')
  t.equal(dropped, 0, 'no connection dropped')
  const deadlocks = replicas.reduce((sum, r) => sum + r.output().split('\n').filter(line => line.includes('40P01')).length, 0)
  t.comment(`${deadlocks} deadlocks logged by the replicas (retried or answered 503)`)
  const errors = replicas.flatMap(r => r.output().split('\n').filter(line => /"level":(50|60)/.test(line)))
  t.same(errors, [], 'no replica logged an error')

  // 2. The state, read through the API of every replica, is the in-order state.
  t.ok((expected as { tenants: unknown[] }).tenants.length > 0 && (expected as { users: unknown[] }).users.length > 0, 'the in-order state is not empty')
  for (const [i, replica] of replicas.entries()) {
    t.same(await state(overHttp(replica.port)), expected, `replica ${i} reads the in-order state`)
  }

  // 3. Every distinct event recorded exactly once; every other delivery answered `duplicate`.
  const db = await pgClient(t, DATABASE_URL)
  const stored = (await db.query<{ id: string }>('SELECT id FROM events')).rows.map(r => r.id)
  t.equal(stored.length, distinct.size, `${distinct.size} rows in events`)
  t.same(new Set(stored), distinct, 'the rows are the distinct envelope ids')
  const wrong: string[] = []
  for (const id of distinct) {
    const seen = outcomes.get(id) ?? []
    const firsts = seen.filter(o => o !== 'duplicate')
    const expectedDeliveries = requests.reduce((sum, r) => sum + r.filter(e => e.id === id).length, 0)
    // A 503 may come after the commit (the request deadline): then every answer is `duplicate`.
    const ok = seen.length === expectedDeliveries && !firsts.includes('rejected') &&
      (firsts.length === 1 || (firsts.length === 0 && retried.has(id)))
    if (!ok) wrong.push(`${id}: ${seen.join(', ')} (${expectedDeliveries} deliveries)`)
  }
  t.same(wrong, [], 'each id answered once with its outcome and `duplicate` for every repeat')

  // Graceful stop: exit 0 (and the processes' coverage is written).
  for (const replica of replicas) t.equal(await replica.stop(), 0, 'replica exits 0 on SIGTERM')
}, [postgresql])
