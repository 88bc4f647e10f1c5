import t, { type Test, type TestOpts } from 'tap'
import type { BuiltPlugins } from '@tapjs/test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import pg from 'pg'
import { tempDir } from '../helpers/app.js'
import { TEST_DATABASE_URL, postgresql } from '../helpers/engines.js'
import { events } from '../helpers/events.js'
import { runScript, startServer, waitListening, type ServerProcess } from '../helpers/process.js'
import { SAASUS, saasus, startSaasus, type SaasusState, type StandIn } from '../helpers/saasus.js'
import { postgresqlTarget } from '../../src/postgresql-url.js'

// `npm run test:stress` (issue 25, rows 9-13 and 16): a real service reconciling every 2 s against a local
// SaaSus stand-in that answers as a hostile or broken SaaSus would: 300 MB answers (items, and one string in a
// field nothing reads), the same id twice, a redirect to another host, empty lists, an error echoing the
// request's Authorization header; then 100,000 reconciliation runs in the table, /metrics and `npm run prune`.
// Throughout, /healthz is polled every 20 ms and events are posted at 20/s: /healthz within HEALTH_MS, intake
// p99 within INTAKE_P99_MS, the service's RSS at most RSS_GROWTH_MB over its warmed-up size, never a 5xx.
// Every loop is bounded in count and time; everything is on 127.0.0.1.
// Options: STRESS_ENGINE=sqlite or postgresql runs one engine; HOSTILE_ROWS=9,16 runs only those rows of the
// issue (default all); HOSTILE_NODE_ARGS adds node options to the service (e.g. `--trace-gc`, `--cpu-prof`);
// STRESS_SERVER_LOG=<file> writes the service's output (its log, and what such options print) to <file>.<engine>.

const KEY = 'stress-test-key-0123456789'
const HEALTH_MS = 250
const INTAKE_P99_MS = 250
const RSS_GROWTH_MB = 150
/** Longest wait for one run of a case (ms). */
const RUN_DEADLINE_MS = 180_000
/** The answer cap of this stress: a 300 MB answer of valid items is held up to it (about 3 MB of memory per MiB). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024
const HUGE_BYTES = 300 * 1024 * 1024
const RUNS = 100_000
const DAY = 86_400_000
/** The rows of the issue to run (HOSTILE_ROWS, comma-separated; all by default). */
const ROWS = new Set((process.env.HOSTILE_ROWS ?? '9,10,11,12,13,16').split(',').map(r => r.trim()))

const rssBytes = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1]) * 1024
}

const id = (prefix: string, i: number) => `${prefix}-${String(i).padStart(6, '0')}`
/** A copy of 200 tenants, 200 users, 200 memberships with a role. */
const goodState = (): SaasusState => ({
  tenants: Array.from({ length: 200 }, (_, i) => saasus.tenant(id('t', i))),
  users: Array.from({ length: 200 }, (_, i) => saasus.user(id('u', i))),
  memberships: Array.from({ length: 200 }, (_, i) => saasus.membership(id('t', i), id('u', i), {}, [{ id: 1, roles: ['admin'] }])),
  roles: [saasus.role('admin')],
  envs: [saasus.env(1)]
})

/** Bytes of a huge answer generated before the stand-in gives this process's other work a turn. */
const HUGE_PIECE = 64 * 1024

/**
 * A streamed answer of about HUGE_BYTES: `{"<field>": [items...]}` or `{"<field>": [], "ignored": "xxx..."}`,
 * generated HUGE_PIECE at a time with a turn of the event loop after each: this process also times the
 * requests, and a stand-in pumping as fast as the service read held its event loop for 0.4-0.6 s at a time
 * (Readable.from's flowing loop; in object mode it also generated 65,536 items, ~40 MB, in one go), which was
 * measured as a slow /healthz or event whatever the service did.
 */
function huge (field: string, kind: 'items' | 'string'): () => Readable {
  return () => Readable.from((async function * () {
    const piece = 'x'.repeat(HUGE_PIECE)
    yield kind === 'string' ? `{"${field}": [], "ignored": "` : `{"${field}": [`
    for (let sent = 0, i = 0; sent < HUGE_BYTES;) {
      let text = ''
      if (kind === 'string') text = piece
      else for (; text.length < HUGE_PIECE; i++) text += `${i === 0 ? '' : ','}${JSON.stringify(saasus.user(`huge-${i}`, { attributes: { pad: 'p'.repeat(400) } }))}`
      sent += text.length
      yield text
      await new Promise(resolve => setImmediate(resolve))
    }
    yield kind === 'string' ? '"}' : ']}'
  })(), { objectMode: false, highWaterMark: HUGE_PIECE })
}

interface Load { stop: () => Promise<{ worstHealthMs: number, intakeP99Ms: number, intakeMaxMs: number, events: number, fivexx: string[], ownStallMs: number }> }

/**
 * /healthz every 20 ms and an event every 50 ms (at most `maxMs`), until stopped. `ownStallMs` is this
 * process's longest event-loop delay meanwhile: a time measured here includes it, whatever the service did.
 */
function load (port: number, maxMs: number): Load {
  const stalls = monitorEventLoopDelay({ resolution: 10 })
  stalls.enable()
  let running = true
  const until = Date.now() + maxMs
  let worstHealthMs = 0
  const intake: number[] = []
  const fivexx: string[] = []
  const health = (async () => {
    while (running && Date.now() < until) {
      const started = performance.now()
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) })
        await res.arrayBuffer()
        if (res.status >= 500) fivexx.push(`/healthz ${res.status}`)
      } catch (err) { fivexx.push(`/healthz ${(err as Error).message}`) }
      worstHealthMs = Math.max(worstHealthMs, performance.now() - started)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })()
  const posts = (async () => {
    for (let n = 0; running && Date.now() < until; n++) {
      const started = performance.now()
      // Users SaaSus has (a new user would be deleted by the next run, and enough of them trip the guard).
      const body = JSON.stringify(events.createUser(id('u', n % 200), { email: `load${n}@example.com` }, { time: new Date().toISOString() }))
      try {
        const res = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body, signal: AbortSignal.timeout(10_000) })
        await res.arrayBuffer()
        if (res.status >= 500) fivexx.push(`/events ${res.status}`)
      } catch (err) { fivexx.push(`/events ${(err as Error).message}`) }
      intake.push(performance.now() - started)
      await new Promise(resolve => setTimeout(resolve, Math.max(0, 50 - (performance.now() - started))))
    }
  })()
  return {
    stop: async () => {
      running = false
      await Promise.all([health, posts])
      const sorted = [...intake].sort((a, b) => a - b)
      stalls.disable()
      const ownStallMs = stalls.max / 1e6
      return { worstHealthMs, intakeP99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0, intakeMaxMs: sorted.at(-1) ?? 0, events: sorted.length, fivexx, ownStallMs }
    }
  }
}

type RunRow = { id: string, started_at: string, outcome: string, error: string | null }

async function runs (port: number): Promise<RunRow[]> {
  const res = await fetch(`http://127.0.0.1:${port}/reconcile/runs?limit=20`, { headers: { 'x-api-key': KEY } })
  return (await res.json() as { items: RunRow[] }).items
}

/** The first run to finish that started after `since` (not skipped). */
async function nextRun (port: number, since: number): Promise<RunRow> {
  const deadline = Date.now() + RUN_DEADLINE_MS
  while (Date.now() < deadline) {
    const found = (await runs(port)).filter(r => Date.parse(r.started_at) > since && r.outcome !== 'running' && r.outcome !== 'skipped')
    if (found.length > 0) return found[found.length - 1]
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`no run finished within ${RUN_DEADLINE_MS} ms`)
}

async function metricsMs (port: number): Promise<{ ms: number, body: string }> {
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  const body = await res.text()
  return { ms: performance.now() - started, body }
}

interface Engine {
  name: string
  databaseUrl: string
  /** Adds `count` finished runs started 100 days ago, straight into the table. */
  addRuns: (count: number) => Promise<void>
  countRuns: () => Promise<number>
}

type TapTest = Test<BuiltPlugins, TestOpts> & BuiltPlugins

async function run (t: TapTest, engine: Engine): Promise<void> {
  const api: StandIn = await startSaasus(t, goodState())
  const elsewhere: StandIn = await startSaasus(t, { ...goodState(), tenants: [saasus.tenant('foreign')] })
  const server: ServerProcess = startServer({
    ...api.env,
    PORT: '0',
    API_KEYS: KEY,
    DATABASE_URL: engine.databaseUrl,
    MALLOC_ARENA_MAX: '2',
    LOG_LEVEL: 'info',
    SAASUS_RETRIES: '0',
    SAASUS_TIMEOUT_MS: '120000',
    RECONCILE_START_DELAY_MS: '0',
    RECONCILE_INTERVAL: '2s',
    RECONCILE_MAX_ANSWER_BYTES: String(MAX_ANSWER_BYTES)
  }, ['--heap-growing-percent=50', ...(process.env.HOSTILE_NODE_ARGS ?? '').split(' ').filter(Boolean)])
  t.teardown(async () => {
    server.kill('SIGTERM')
    await server.exit
    if (process.env.STRESS_SERVER_LOG !== undefined) writeFileSync(`${process.env.STRESS_SERVER_LOG}.${engine.name}`, server.output())
  })
  const port = await waitListening(server)
  const first = await nextRun(port, 0)
  t.equal(first.outcome, 'succeeded', `${engine.name}: the first run applies the good state (${first.error ?? ''})`)
  await new Promise(resolve => setTimeout(resolve, 2500))
  const baseline = rssBytes(server.pid)
  let peak = baseline
  const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(server.pid)) }, 20)
  t.teardown(() => clearInterval(sampler))
  const tenantsNow = async (): Promise<number> => {
    const page = await (await fetch(`http://127.0.0.1:${port}/tenants?limit=200`, { headers: { 'x-api-key': KEY } })).json() as { items: unknown[], next_cursor: string | null }
    return page.items.length + (page.next_cursor === null ? 0 : 1)
  }

  /** Sets the stand-in up as `setUp` says, waits for the next run under load, checks it and the figures. */
  const hostile = async (row: string, setUp: () => void, check: (run: RunRow) => void): Promise<void> => {
    if (!ROWS.has(/^row (\d+)/.exec(row)![1])) return
    api.faults.clear()
    api.state = goodState()
    setUp()
    const since = Date.now()
    const before = peak
    const traffic = load(port, RUN_DEADLINE_MS)
    const started = performance.now()
    const result = await nextRun(port, since)
    const took = performance.now() - started
    const figures = await traffic.stop()
    t.comment(`${engine.name} ${row}: ${result.outcome} in ${Math.round(took)} ms; /healthz worst ${Math.round(figures.worstHealthMs)} ms; ` +
      `intake p99 ${Math.round(figures.intakeP99Ms)} ms (max ${Math.round(figures.intakeMaxMs)}, ${figures.events} events); ` +
      `peak RSS ${Math.round(peak / 1e6)} MB${peak > before ? ` (+${Math.round((peak - before) / 1e6)} MB)` : ''}; this process's longest stall ${Math.round(figures.ownStallMs)} ms; ` +
      `error: ${(result.error ?? '').slice(0, 160)}`)
    check(result)
    t.ok(figures.worstHealthMs <= HEALTH_MS, `${engine.name} ${row}: /healthz worst ${Math.round(figures.worstHealthMs)} ms`)
    t.ok(figures.intakeP99Ms <= INTAKE_P99_MS, `${engine.name} ${row}: intake p99 ${Math.round(figures.intakeP99Ms)} ms`)
    t.same(figures.fivexx, [], `${engine.name} ${row}: no 5xx`)
    t.equal(await tenantsNow(), 200, `${engine.name} ${row}: the copy still holds SaaSus's 200 tenants`)
  }

  await hostile('row 9, a 300 MB answer of users', () => { api.faults.set('/v1/auth/users', { body: huge('users', 'items') }) }, r => {
    t.equal(r.outcome, 'failed')
    t.match(r.error, `the answer is larger than RECONCILE_MAX_ANSWER_BYTES (${MAX_ANSWER_BYTES} bytes)`)
  })
  await hostile('row 9, a 300 MB string in an ignored field', () => { api.faults.set('/v1/auth/tenants', { body: huge('tenants', 'string') }) }, r => {
    t.equal(r.outcome, 'failed')
    t.match(r.error, 'a string longer than 4194304 bytes')
  })
  await hostile('row 10, the same id twice', () => { api.state.tenants = [...api.state.tenants, saasus.tenant(id('t', 7), { name: 'another name' })] }, r => {
    t.equal(r.outcome, 'failed')
    t.match(r.error, 'malformed answer: the tenant id "t-000007" appears twice')
  })
  await hostile('row 11, a redirect to another host', () => { api.faults.set('/v1/auth/tenants', { status: 302, location: `${elsewhere.url}/v1/auth/tenants`, body: '' }) }, r => {
    t.equal(r.outcome, 'failed')
    t.match(r.error, `HTTP 302, a redirect to ${elsewhere.url}, which is not followed`)
    t.same(elsewhere.calls, [], 'the other host was never asked')
  })
  await hostile('row 12, five empty lists', () => { api.state = { tenants: [], users: [], memberships: [], roles: [], envs: [] } }, r => {
    t.equal(r.outcome, 'refused')
    // Users the load's events touched since the snapshot's version are newer than it: not counted (so few
    // may be left that users are under the guard's minimum, and not named).
    t.match(r.error, /would delete 200 of 200 role assignments, 200 of 200 memberships, (\d+ of \d+ users, )?200 of 200 tenants/)
  })
  if (ROWS.has('12')) t.match((await metricsMs(port)).body, /^receiver_reconcile_mass_delete_refused 1$/m, `${engine.name}: /metrics says the copy waits on an operator`)
  await hostile('row 13, an error echoing Authorization', () => { api.faults.set('/v1/auth/users', { status: 400, echoAuthorization: true }) }, r => {
    t.equal(r.outcome, 'failed')
    t.match(r.error, 'Authorization: [redacted]')
    for (const secret of [SAASUS.apiKey, SAASUS.secretKey]) t.notMatch(r.error, secret)
    t.notMatch(r.error, /Sig=[0-9a-f]/)
  })
  const output = server.output()
  t.notMatch(output, SAASUS.secretKey, `${engine.name}: the log holds no secret key`)
  t.notMatch(output, SAASUS.apiKey, `${engine.name}: nor the API key`)
  t.notMatch(output, /Sig=[0-9a-f]{64}/, `${engine.name}: nor a signature`)

  if (ROWS.has('16')) await row16(t, engine, api, port)

  clearInterval(sampler)
  const growthMb = (peak - baseline) / 1e6
  t.ok(growthMb <= RSS_GROWTH_MB, `${engine.name}: peak RSS ${Math.round(peak / 1e6)} MB, grew ${Math.round(growthMb)} MB over the warmed-up ${Math.round(baseline / 1e6)} MB`)
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, `${engine.name}: the process survived`)
}

/** Row 16: 100,000 runs in the table: /metrics under load, then npm run prune. */
async function row16 (t: TapTest, engine: Engine, api: StandIn, port: number): Promise<void> {
  api.faults.clear()
  api.state = goodState()
  await engine.addRuns(RUNS)
  const traffic = load(port, RUN_DEADLINE_MS)
  const scrapes: number[] = []
  for (let i = 0; i < 20; i++) scrapes.push((await metricsMs(port)).ms)
  const pruneStarted = performance.now()
  const pruned = await runScript('prune', ['--older-than', '90d'], { DATABASE_URL: engine.databaseUrl, API_KEYS: KEY })
  const pruneMs = performance.now() - pruneStarted
  const afterPrune: number[] = []
  for (let i = 0; i < 20; i++) afterPrune.push((await metricsMs(port)).ms)
  const figures = await traffic.stop()
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  t.comment(`${engine.name} row 16: /metrics with ${RUNS} runs median ${median(scrapes).toFixed(1)} ms (max ${Math.max(...scrapes).toFixed(1)}), ` +
    `after prune ${median(afterPrune).toFixed(1)} ms; prune took ${Math.round(pruneMs)} ms; /healthz worst ${Math.round(figures.worstHealthMs)} ms; ` +
    `intake p99 ${Math.round(figures.intakeP99Ms)} ms (max ${Math.round(figures.intakeMaxMs)}, ${figures.events} events); this process's longest stall ${Math.round(figures.ownStallMs)} ms`)
  t.equal(pruned.code, 0, pruned.output)
  t.match(pruned.output, new RegExp(`deleted ${RUNS} reconciliation run\\(s\\) started before`))
  t.ok(await engine.countRuns() < 100, `${engine.name}: ${await engine.countRuns()} runs left after prune`)
  t.ok(figures.worstHealthMs <= HEALTH_MS, `${engine.name} row 16: /healthz worst ${Math.round(figures.worstHealthMs)} ms`)
  t.ok(figures.intakeP99Ms <= INTAKE_P99_MS, `${engine.name} row 16: intake p99 ${Math.round(figures.intakeP99Ms)} ms`)
  t.same(figures.fivexx, [], `${engine.name} row 16: no 5xx`)
}

const OLD = () => Date.now() - 100 * DAY

// Minutes on a loaded machine (the 300 MB answers alone take one): the file's budget, not tap's 120 s.
t.setTimeout(1_800_000)

const only = process.env.STRESS_ENGINE

t.test('hostile SaaSus answers on SQLite', { timeout: 900_000, skip: only !== undefined && only !== 'sqlite' }, async t => {
  const file = join(tempDir(t), 'stress.db')
  await run(t, {
    name: 'SQLite',
    databaseUrl: `file:${file}`,
    addRuns: async count => {
      const db = new Database(file)
      db.pragma('busy_timeout = 5000')
      db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO "reconcile_runs" ("id", "started_at", "ended_at", "snapshot_version", "dry_run", "trigger", "outcome", "counts", "error")
        SELECT 'old-' || i, strftime('%Y-%m-%dT%H:%M:%f+00:00', (? + i) / 1000.0, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%f+00:00', (? + i + 1000) / 1000.0, 'unixepoch'),
          '0', 0, 'interval', CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'skipped' END, NULL, NULL FROM n`).run(count, OLD(), OLD())
      db.close()
    },
    countRuns: async () => {
      const db = new Database(file, { readonly: true })
      const { n } = db.prepare('SELECT COUNT(*) AS n FROM "reconcile_runs"').get() as { n: number }
      db.close()
      return n
    }
  })
})

t.test('hostile SaaSus answers on PostgreSQL', { timeout: 900_000, skip: only !== undefined && only !== 'postgresql' }, async t => {
  try {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 })
    await client.connect()
    await client.end()
  } catch (err) {
    t.plan(0, `no PostgreSQL at ${TEST_DATABASE_URL}: ${(err as Error).message}`)
    return
  }
  const databaseUrl = postgresql.databaseUrl(t)
  const query = async <T>(text: string, values: unknown[] = []): Promise<T[]> => {
    const target = postgresqlTarget(databaseUrl)
    const client = new pg.Client({ connectionString: target.connectionString })
    await client.connect()
    try {
      await client.query(`SET search_path TO "${target.schema}"`)
      return (await client.query(text, values)).rows as T[]
    } finally {
      await client.end()
    }
  }
  await run(t, {
    name: 'PostgreSQL',
    databaseUrl,
    addRuns: async count => {
      await query(`INSERT INTO "reconcile_runs" ("id", "started_at", "ended_at", "snapshot_version", "dry_run", "trigger", "outcome")
        SELECT 'old-' || i, to_timestamp(($2::bigint + i) / 1000.0), to_timestamp(($2::bigint + i + 1000) / 1000.0), '0', false, 'interval',
          CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'skipped' END FROM generate_series(1, $1::int) AS i`, [count, OLD()])
    },
    countRuns: async () => Number((await query<{ n: string }>('SELECT COUNT(*) AS n FROM "reconcile_runs"'))[0].n)
  })
})
