import t from 'tap'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { buildApp, deliver, getJson, postEvent } from './helpers/app.js'
import { engineTest, pgClient, postgresql, type Engine } from './helpers/engines.js'
import { events } from './helpers/events.js'
import type { Teardown } from './helpers/app.js'

// PostgreSQL stopped or unreachable mid-run (issue 6), without touching the real server: the app talks to
// it through a TCP proxy on 127.0.0.1 that the test can stop (every connection cut, new ones refused),
// black-hole (connections accepted or kept, nothing forwarded either way, as in a network partition) or
// restore. The app is never restarted: its pool must replace dead connections by itself.

const time = '2026-05-19T02:22:58Z'

// Small limits, so that an outage answers 503 well within the test's patience.
const ENV = {
  PG_STATEMENT_TIMEOUT_MS: '300',
  TRANSACTION_MAX_WAIT_MS: '300',
  TRANSACTION_TIMEOUT_MS: '600',
  REQUEST_DEADLINE_MS: '1500',
  DB_RETRY_ATTEMPTS: '1',
  RETRY_AFTER_SECONDS: '4',
  PG_POOL_MAX: '4'
}
/** No answer of the app may take longer than this during the outage (the deadline, plus slack for a loaded machine). */
const BOUND_MS = 3000

interface Pair { client: net.Socket, upstream?: net.Socket }

class OutageProxy {
  mode: 'forward' | 'stopped' | 'blackhole' = 'forward'
  port = 0
  private server?: net.Server
  private readonly pairs = new Set<Pair>()

  constructor (private readonly target: { host: string, port: number }) {}

  async listen (): Promise<void> {
    const server = net.createServer(client => { this.accept(client) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => { server.off('error', reject); resolve() })
    })
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
  }

  private accept (client: net.Socket): void {
    const pair: Pair = { client }
    this.pairs.add(pair)
    client.on('error', () => {})
    client.on('close', () => { pair.upstream?.destroy(); this.pairs.delete(pair) })
    if (this.mode === 'blackhole') client.pause() // accepted, never answered (until restored)
    else this.connect(pair)
  }

  private connect (pair: Pair): void {
    const upstream = net.connect(this.target.port, this.target.host)
    pair.upstream = upstream
    upstream.on('error', () => {})
    upstream.on('close', () => { pair.client.destroy() })
    pair.client.pipe(upstream)
    upstream.pipe(pair.client)
    pair.client.resume()
  }

  /** PostgreSQL stopped: every connection reset, new ones refused. */
  async stop (): Promise<void> {
    this.mode = 'stopped'
    const server = this.server
    this.server = undefined
    const closed = new Promise<void>(resolve => { server?.close(() => { resolve() }) ?? resolve() })
    for (const { client, upstream } of this.pairs) { client.resetAndDestroy(); upstream?.destroy() }
    await closed
  }

  /** Network unreachable: connections stay open but nothing goes through, either way. */
  blackhole (): void {
    this.mode = 'blackhole'
    for (const { client, upstream } of this.pairs) { client.pause(); upstream?.pause() }
  }

  /**
   * The database is back: the same port forwards again. After a black hole, held connections either flow on
   * (`resume`: the partition healed, TCP delivers what it held), are reset (`reset`: the server restarted
   * meanwhile and no longer knows them) or stay silent (`silent`: a firewall or NAT forgot them, so they
   * never answer again; only new connections work).
   */
  async restore (held: 'resume' | 'reset' | 'silent' = 'resume'): Promise<void> {
    const was = this.mode
    this.mode = 'forward'
    if (was === 'stopped') await this.listen()
    for (const pair of this.pairs) {
      if (pair.client.destroyed) continue
      if (held === 'silent') continue
      if (held === 'reset') { pair.client.resetAndDestroy(); pair.upstream?.destroy() } else if (pair.upstream === undefined) this.connect(pair)
      else { pair.client.resume(); pair.upstream.resume() }
    }
  }

  /** Resets every connection still held in the black hole. */
  resetHeld (): void {
    for (const { client, upstream } of this.pairs) {
      if (client.isPaused()) { client.resetAndDestroy(); upstream?.destroy() }
    }
  }

  async close (): Promise<void> {
    for (const { client, upstream } of this.pairs) { client.destroy(); upstream?.destroy() }
    await new Promise<void>(resolve => { this.server?.close(() => { resolve() }) ?? resolve() })
  }
}

/** The test's database URL (its schema kept), through a proxy started for it and closed after the test. */
async function throughProxy (t: Teardown, engine: Engine): Promise<{ direct: string, proxied: string, proxy: OutageProxy }> {
  const direct = engine.databaseUrl(t)
  const url = new URL(direct)
  const proxy = new OutageProxy({ host: url.hostname, port: Number(url.port === '' ? 5432 : url.port) })
  await proxy.listen()
  t.teardown(async () => { await proxy.close() })
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  return { direct, proxied: url.toString(), proxy }
}

async function timed<T> (work: Promise<T>): Promise<{ value: T, ms: number }> {
  const start = performance.now()
  const value = await work
  return { value, ms: Math.round(performance.now() - start) }
}

type TapTest = Parameters<Parameters<typeof engineTest>[2]>[0]

async function outageApp (t: TapTest, engine: Engine) {
  const { direct, proxied, proxy } = await throughProxy(t, engine)
  const built = await buildApp(t, { ...ENV, DATABASE_URL: proxied }, engine)
  t.equal(built.config.DATABASE_URL, proxied, 'the app goes through the proxy')
  // The first transactions prepare their statements (a create_tenant's plan reads among them), which can take
  // longer than this file's 600 ms transaction time-out on a loaded machine: warm up before the fault is timed.
  let warm = 0
  for (let i = 0; i < 10 && warm !== 200; i++) {
    warm = (await postEvent(built.app, events.createTenant(`warm-up-${i}`, { name: 'warm' }, { time }))).statusCode
  }
  t.equal(warm, 200, 'a warm-up event is taken before the fault')
  return { ...built, direct, proxy }
}

/** Delivers events before the fault; each must be acknowledged. */
async function acknowledged (t: TapTest, app: FastifyInstance, prefix: string): Promise<Array<{ id: string }>> {
  const sent = [
    events.createTenant(`${prefix}-t1`, { name: 'one' }, { time }),
    events.createTenant(`${prefix}-t2`, { name: 'two' }, { time }),
    events.createUser(`${prefix}-u1`, { email: `${prefix}@example.com` }, { time })
  ]
  for (const e of sent) t.equal(await deliver(app, e), 'applied')
  return sent as Array<{ id: string }>
}

/**
 * During the outage: events answer 503 + Retry-After within BOUND_MS, /readyz 503, /healthz 200, never a 500.
 * Returns the slowest 503.
 */
async function duringOutage (t: TapTest, app: FastifyInstance, prefix: string): Promise<number> {
  let slowest = 0
  for (let i = 0; i < 3; i++) {
    const { value: res, ms } = await timed(postEvent(app, events.createTenant(`${prefix}-during-${i}`, { name: 'refused' }, { time })))
    t.not(res.statusCode, 500, 'never a 500')
    t.equal(res.statusCode, 503, `event ${i + 1}: 503 (${ms} ms)`)
    t.equal(res.headers['retry-after'], ENV.RETRY_AFTER_SECONDS)
    t.ok(ms < BOUND_MS, `answered within ${BOUND_MS} ms: ${ms} ms`)
    slowest = Math.max(slowest, ms)
  }
  const ready = await timed(getJson(app, '/readyz'))
  t.equal(ready.value.statusCode, 503, `/readyz: 503 (${ready.ms} ms)`)
  t.ok(ready.ms < BOUND_MS, `/readyz answered within ${BOUND_MS} ms: ${ready.ms} ms`)
  const read = await timed(getJson(app, `/events/${prefix}-anything`))
  t.not(read.value.statusCode, 500, `a read: never a 500 (${read.value.statusCode}, ${read.ms} ms)`)
  t.ok(read.ms < BOUND_MS, `a read answered within ${BOUND_MS} ms: ${read.ms} ms`)
  t.equal((await getJson(app, '/healthz')).statusCode, 200, '/healthz stays 200')
  return slowest
}

/** After the restore, without restarting: /readyz and new events recover, and nothing acknowledged was lost. */
async function recovers (t: TapTest, app: FastifyInstance, prefix: string, before: Array<{ id: string }>): Promise<number> {
  const start = performance.now()
  let ready = 0
  for (let i = 0; i < 100; i++) {
    const res = await getJson(app, '/readyz')
    t.not(res.statusCode, 500, 'never a 500')
    ready = res.statusCode
    if (ready === 200) break
    await sleep(50)
  }
  const ms = Math.round(performance.now() - start)
  t.equal(ready, 200, `/readyz 200 again after ${ms} ms`)
  const after = events.createTenant(`${prefix}-after`, { name: 'after' }, { time })
  const res = await postEvent(app, after)
  t.equal(res.statusCode, 200, 'a new event is 200 again')
  for (const e of before) t.equal((await getJson(app, `/events/${e.id}`)).statusCode, 200, `acknowledged before the fault, still there: ${e.id}`)
  t.equal((await getJson(app, `/tenants/${prefix}-t1`)).json().name, 'one')
  return ms
}

engineTest(t, 'PostgreSQL stopped mid-run: 503 + Retry-After, then recovers by itself', async (t, engine) => {
  const { app, proxy } = await outageApp(t, engine)
  const before = await acknowledged(t, app, 'stop')
  await proxy.stop()
  const slowest = await duringOutage(t, app, 'stop')
  await proxy.restore()
  const recovery = await recovers(t, app, 'stop', before)
  t.comment(`stopped: slowest 503 after ${slowest} ms; ready again ${recovery} ms after the restore`)
}, [postgresql])

engineTest(t, 'PostgreSQL unreachable mid-run (black hole): 503 rather than hanging, then recovers', async (t, engine) => {
  for (const held of ['resume', 'reset', 'silent'] as const) {
    const { app, proxy } = await outageApp(t, engine)
    const before = await acknowledged(t, app, `hole-${held}`)
    proxy.blackhole()
    // More requests than pool connections (PG_POOL_MAX 4): each may leave one stuck in the black hole.
    const slowest = Math.max(await duringOutage(t, app, `hole-${held}`), await duringOutage(t, app, `hole-${held}-2`))
    await proxy.restore(held)
    const recovery = await recovers(t, app, `hole-${held}`, before)
    t.comment(`unreachable, then held connections ${held}: slowest 503 after ${slowest} ms; ready again ${recovery} ms after the restore`)
    // Silent connections would hold up the app's close (pg waits for the server to acknowledge its goodbye)
    // until TCP gives up; server.ts bounds that with SHUTDOWN_TIMEOUT_MS, the test ends them now.
    proxy.resetHeld()
  }
}, [postgresql])

engineTest(t, 'an event refused during an outage and delivered again is applied exactly once', async (t, engine) => {
  for (const fault of ['stop', 'blackhole'] as const) {
    const { app, proxy, direct } = await outageApp(t, engine)
    t.equal(await deliver(app, events.createTenant(`${fault}-warm`, { name: 'warm' }, { time })), 'applied')
    const event = events.createTenant(`${fault}-retried`, { name: 'retried' }, { time })
    if (fault === 'stop') await proxy.stop()
    else proxy.blackhole()
    const refused = await postEvent(app, event)
    t.equal(refused.statusCode, 503, `${fault}: refused during the outage`)
    t.equal(refused.headers['retry-after'], ENV.RETRY_AFTER_SECONDS)
    await proxy.restore()
    // EventBridge delivers it again, honouring Retry-After (here: at once, and once more).
    let outcome: string | undefined
    for (let i = 0; i < 100 && outcome === undefined; i++) {
      const res = await postEvent(app, event)
      t.not(res.statusCode, 500, 'never a 500')
      if (res.statusCode === 200) outcome = res.json().results[0].outcome
      else await sleep(50)
    }
    t.ok(outcome === 'applied' || outcome === 'duplicate', `${fault}: the retry is ${String(outcome)}`)
    t.equal(await deliver(app, event), 'duplicate', `${fault}: a further delivery is a duplicate`)
    const db = await pgClient(t, direct)
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM "events" WHERE id = $1', [event.id])
    t.equal(rows[0].n, 1, `${fault}: exactly one inbox row`)
    t.equal((await getJson(app, `/tenants/${fault}-retried`)).json().name, 'retried')
  }
}, [postgresql])
