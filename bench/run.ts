import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { workload } from './workload.js'
import { chartSvg, slowDiskChartSvg } from './chart.js'
import { slowDiskSection } from './slow-disk.js'
import { beforeAfterSection } from './before-after.js'
import { openLoop, percentile } from './open-loop.js'
import { closedLoop } from './closed-loop.js'
import { postgresAdmin, schemaUrl, skippedMessage } from './postgresql.js'
import { freePort } from '../test/helpers/process.js'
import { startReceiverProcess, type Started } from './receiver-process.js'
import { cpuMs, rssMb } from './process-stats.js'

// `npm run bench`: bare Fastify, the naive receiver (bench/naive.ts, issue 17's yardstick) and the receiver,
// side by side on this machine, same payloads, same client. Closed loop with 64 connections (autocannon) for
// throughput and p99, then a true open loop at EventBridge's default 300 requests/s for latency
// (bench/open-loop.ts): with kept-alive connections, and with one connection per request as EventBridge's API
// destinations send. Every run reports the server process's CPU per request (utime + stime from /proc, over
// the requests sent) and its RSS at the start and at peak (sampled from /proc). One closed-loop run of the
// receiver without its database write (bench/ceiling.ts) shows what the rest costs, and one with the change
// feed switched off (bench/feed-off.ts) what the feed costs; one at the EventBridge rate with a group-commit window
// (BENCH_WINDOW_MS, default 10) what fewer commits would buy.
// Durations: BENCH_SECONDS (default 30) and BENCH_OPEN_SECONDS (default 15).
// Results: a table on stdout and bench/results/latest.json.

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30)
const OPEN_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 15)
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10)
const CONNECTIONS = 64
const KEY = 'bench-key-0123456789abcdef'
const root = fileURLToPath(new URL('..', import.meta.url))


async function start (args: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start:\n${output}`)), 30_000)
    const seen = (d: Buffer) => {
      output += String(d)
      const match = /(?:listening|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) { clearTimeout(timer); resolve({ child, url: match[1] }) }
    }
    child.stdout!.on('data', seen)
    child.stderr!.on('data', seen)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${output}`)) })
  })
}


/** `npm start`'s environment variables and Node flags, read from package.json so that the two cannot drift. */
function startCommand (): { env: Record<string, string>, flags: string[] } {
  const script: string = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start
  const match = /^((?:\w+=\S+ )*)node ((?:--\S+ )*)dist\/server\.js$/.exec(script)
  if (match === null) throw new Error(`cannot read the start script: ${script}`)
  const env = Object.fromEntries(match[1].trim().split(' ').filter(Boolean).map(pair => pair.split('=') as [string, string]))
  return { env, flags: match[2].trim().split(' ').filter(Boolean) }
}

// Read once, before any run: a start script the bench cannot follow fails here, not after the baseline.
const START = startCommand()

/**
 * The built receiver started as `npm start` starts it (same Node flags and environment), at LOG_LEVEL=warn
 * (request logs would be a cost of their own), on a free port; `entry` replaces dist/server.js (the ceiling).
 */
async function startReceiver (env: Record<string, string>, entry = ['dist/server.js'], at = root): Promise<Started> {
  return await startReceiverProcess(at, await freePort(), [...START.flags, ...entry],
    { ...START.env, API_KEYS: KEY, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env })
}

async function stop (child: ChildProcess): Promise<void> {
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

interface Measured {
  /** Envelope ids answered 2xx. */
  ok: Set<string>
  requests: number
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  peakRssMb: number
  endRssMb: number
  distinctOk: number
  /** Server CPU (user + system) per request sent, ms. */
  cpuMsPerRequest: number
  startRssMb: number
}

const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Amazon/EventBridge/ApiDestinations', 'x-api-key': KEY }

/**
 * Closed loop (64 connections, autocannon), or open loop at `rate` requests/s, with kept-alive connections or
 * one per request.
 */
async function drive (target: Started, seconds: number, rate?: number, connectionPerRequest = false): Promise<Measured> {
  const load = workload()
  const pid = target.child.pid!
  const startRssMb = rssMb(pid)
  const cpuBefore = cpuMs(pid)
  const cpu = (requests: number) => ({ cpuMsPerRequest: (cpuMs(pid) - cpuBefore) / Math.max(1, requests), startRssMb })
  let peak = 0
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(target.child.pid!)) }, 200)
  const memory = () => ({ peakRssMb: Math.max(peak, rssMb(target.child.pid!)), endRssMb: rssMb(target.child.pid!) })
  if (rate !== undefined) {
    const result = await openLoop(target.url, rate, seconds, load, HEADERS, connectionPerRequest)
    clearInterval(sampler)
    return {
      ...cpu(result.requests),
      requests: result.requests,
      rps: result.requests / seconds,
      p50: percentile(result.latencies, 50),
      p99: percentile(result.latencies, 99),
      non2xx: result.non2xx,
      errors: result.errors,
      ...memory(),
      distinctOk: result.ok.size,
      ok: result.ok
    }
  }
  const ok = new Set<string>()
  const result = await closedLoop(target.url, CONNECTIONS, seconds, HEADERS, ok, load)
  clearInterval(sampler)
  return {
    ...cpu(result.requests.total),
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    ...memory(),
    distinctOk: ok.size,
    ok
  }
}

const rows: Array<Record<string, string | number>> = []
const record = (name: string, m: Measured, baselineRps: number) => {
  rows.push({
    target: name, 'req/s': Math.round(m.rps), 'p50 ms': Math.round(m.p50 * 10) / 10, 'p99 ms': Math.round(m.p99 * 10) / 10,
    'vs bare': `${Math.round((m.rps / baselineRps) * 100)} %`,
    'CPU ms/req': Math.round(m.cpuMsPerRequest * 100) / 100,
    'start RSS MB': Math.round(m.startRssMb),
    'peak RSS MB': Math.round(m.peakRssMb),
    'non-2xx': m.non2xx,
    errors: m.errors
  })
}

/** Open loop at EventBridge's 300 requests/s, one connection per request: the rate that matters (issue 17). */
const EVENTBRIDGE = 'EventBridge rate (300 req/s open loop, connection per request)'
const OPEN_RATE = 300

/**
 * The slow-disk section (bench/slow-disk.ts): results in bench/results/slow-disk.json and slow-disk.svg.
 * BENCH_ONLY=slow-disk runs it alone (with BENCH_SLOW_SECONDS=5, in a few minutes).
 */
async function slowDisk (): Promise<void> {
  const { rows: slowRows, checks: slowChecks } = await slowDiskSection({
    startReceiver: async (env, at) => await startReceiver(env, ['dist/server.js'], at),
    startNaive: async env => await start(['--import=tsx', 'bench/naive.ts'], { ...env, API_KEY: KEY, PORT: String(await freePort()) }),
    stop,
    headers: HEADERS
  })
  const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  console.log(`\nslow disk: every flush delayed, ${OPEN_RATE} req/s open loop, connection per request\n`)
  console.table(slowRows)
  for (const c of slowChecks) console.log(`correctness, ${c.target}: ${c.acknowledged} answered 2xx, ${c.missing} of them not stored`)
  console.log(`load average: ${loadavg().map(l => l.toFixed(2)).join(', ')}`)
  const date = new Date().toISOString()
  mkdirSync(join(root, 'bench/results'), { recursive: true })
  writeFileSync(join(root, 'bench/results/slow-disk.json'), JSON.stringify({ machine, date, rate: OPEN_RATE, rows: slowRows, checks: slowChecks, loadavg: loadavg() }, null, 2) + '\n')
  writeFileSync(join(root, 'bench/results/slow-disk.svg'), slowDiskChartSvg(slowRows, `${machine}; ${OPEN_RATE} req/s, connection per request; ${date.slice(0, 10)}`))
  if (slowChecks.some(c => c.missing > 0)) process.exitCode = 1
}

/**
 * BENCH_ONLY=before-after with BENCH_BEFORE=<a checkout with dist/ built>[,<another>...]: that code against this
 * one on SQLite at flush +0, rounds interleaved (bench/before-after.ts); results in bench/results/before-after.json.
 */
async function beforeAfter (before: string[]): Promise<void> {
  const { samples, summary } = await beforeAfterSection(before, {
    startReceiver: async (env, at) => await startReceiver(env, ['dist/server.js'], at),
    startNaive: async env => await start(['--import=tsx', 'bench/naive.ts'], { ...env, API_KEY: KEY, PORT: String(await freePort()) }),
    stop,
    headers: HEADERS,
    seconds: SECONDS,
    openSeconds: OPEN_SECONDS
  })
  const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  console.log(`\nbefore (${before.join(', ')}) and now, interleaved; closed loop ${SECONDS} s, ${CONNECTIONS} connections; open loop ${OPEN_SECONDS} s at ${OPEN_RATE} req/s, connection per request\n`)
  console.table(summary.map(({ values, ...s }) => ({ ...s, values: values.join(' ') })))
  const of = (target: string, figure: string): number => summary.find(s => s.target === target && s.figure === figure)!.median
  const now = 'receiver, SQLite (FULL)'
  for (const at of before) {
    const was = `receiver before (${at}), SQLite (FULL)`
    console.log(`now / before (${at}), medians: open-loop CPU per request ${(of(now, 'openCpu') / of(was, 'openCpu')).toFixed(2)}, ` +
      `p99 ${(of(now, 'p99') / of(was, 'p99')).toFixed(2)}, closed-loop req/s ${(of(now, 'closedRps') / of(was, 'closedRps')).toFixed(2)}`)
  }
  console.log(`now / lean naive, medians: open-loop CPU per request ${(of(now, 'openCpu') / of('naive receiver, lean inbox', 'openCpu')).toFixed(2)}`)
  const missing = samples.reduce((n, s) => n + s.missing, 0)
  console.log(`correctness: ${samples.reduce((n, s) => n + s.acknowledged, 0)} answered 2xx, ${missing} of them not stored`)
  console.log(`load average: ${loadavg().map(l => l.toFixed(2)).join(', ')}`)
  mkdirSync(join(root, 'bench/results'), { recursive: true })
  writeFileSync(join(root, 'bench/results/before-after.json'), JSON.stringify({
    machine, date: new Date().toISOString(), before, seconds: SECONDS, openSeconds: OPEN_SECONDS, rate: OPEN_RATE, samples, summary, loadavg: loadavg()
  }, null, 2) + '\n')
  if (missing > 0) process.exitCode = 1
}

if (process.env.BENCH_ONLY === 'before-after') {
  if (process.env.BENCH_BEFORE === undefined) throw new Error('BENCH_ONLY=before-after needs BENCH_BEFORE=<a checkout with dist/ built>')
  await beforeAfter(process.env.BENCH_BEFORE.split(','))
  process.exit()
}

if (process.env.BENCH_ONLY === 'slow-disk') {
  await slowDisk()
  process.exit()
}

const baseline = await start(['--import=tsx', 'bench/baseline.ts'], {})
const bare = await drive(baseline, SECONDS)
const bareOpen = await drive(baseline, OPEN_SECONDS, OPEN_RATE, true)
await stop(baseline.child)
record('bare Fastify', bare, bare.rps)
record(`bare Fastify, ${EVENTBRIDGE}`, bareOpen, bare.rps)

/** Every envelope id answered 2xx must be recorded; the rest were in flight when the client stopped. */
interface Check { target: string, acknowledged: number, recorded: number, missing: number }
const checks: Check[] = []
const check = (target: string, runs: Measured[], recorded: Set<string>) => {
  const acknowledged = new Set(runs.flatMap(r => [...r.ok]))
  checks.push({ target, acknowledged: acknowledged.size, recorded: recorded.size, missing: [...acknowledged].filter(id => !recorded.has(id)).length })
}

/** The receiver at the rate that matters and under saturation, against the naive receiver of the same run. */
interface Comparison { target: string, naiveCpu: number, leanCpu: number, cpu: number, naiveP99: number, p99: number, naiveRps: number, rps?: number }
const comparisons: Comparison[] = []

async function receiverRuns (name: string, env: Record<string, string>): Promise<Measured[]> {
  const receiver = await startReceiver(env)
  const runs = [
    await drive(receiver, SECONDS), await drive(receiver, SECONDS), await drive(receiver, OPEN_SECONDS, OPEN_RATE),
    await drive(receiver, OPEN_SECONDS, OPEN_RATE, true)
  ]
  await stop(receiver.child)
  record(`receiver ${name}, run 1`, runs[0], bare.rps)
  record(`receiver ${name}, run 2`, runs[1], bare.rps)
  record(`receiver ${name}, 300 req/s open loop`, runs[2], bare.rps)
  record(`receiver ${name}, ${EVENTBRIDGE}`, runs[3], bare.rps)
  comparisons.push({
    target: name, naiveCpu: naiveOpen.cpuMsPerRequest, leanCpu: leanOpen.cpuMsPerRequest, cpu: runs[3].cpuMsPerRequest, naiveP99: naiveOpen.p99, p99: runs[3].p99,
    naiveRps: naive.rps, rps: Math.max(runs[0].rps, runs[1].rps)
  })
  return runs
}

/**
 * The receiver with a group-commit window (BATCH_MAX_WAIT_MS = BENCH_WINDOW_MS, default 10) at the EventBridge
 * rate: a batch waits that long for more events, so fewer commits share the fixed cost, at the price of latency.
 * Measured beside the default (no wait) so that the trade is seen in one run; not what `npm start` does.
 */
async function windowRun (name: string, env: Record<string, string>): Promise<Measured> {
  const receiver = await startReceiver({ ...env, BATCH_MAX_WAIT_MS: String(WINDOW_MS) })
  const run = await drive(receiver, OPEN_SECONDS, OPEN_RATE, true)
  await stop(receiver.child)
  const target = `${name}, BATCH_MAX_WAIT_MS=${WINDOW_MS}`
  record(`receiver ${target}, ${EVENTBRIDGE}`, run, bare.rps)
  comparisons.push({ target, naiveCpu: naiveOpen.cpuMsPerRequest, leanCpu: leanOpen.cpuMsPerRequest, cpu: run.cpuMsPerRequest, naiveP99: naiveOpen.p99, p99: run.p99, naiveRps: naive.rps })
  return run
}

/** The receiver with its change feed switched off (bench/feed-off.ts): closed loop and the EventBridge rate. */
async function feedOffRuns (name: string, env: Record<string, string>): Promise<Measured[]> {
  const receiver = await startReceiver(env, ['--import=tsx', 'bench/feed-off.ts'])
  const runs = [await drive(receiver, SECONDS), await drive(receiver, OPEN_SECONDS, OPEN_RATE, true)]
  await stop(receiver.child)
  record(`receiver ${name}, change feed off`, runs[0], bare.rps)
  record(`receiver ${name}, change feed off, ${EVENTBRIDGE}`, runs[1], bare.rps)
  return runs
}

const dir = mkdtempSync(join(tmpdir(), 'receiver-bench-'))

// The naive receiver (bench/naive.ts) on a SQLite file of its own.
const naiveServer = await start(['--import=tsx', 'bench/naive.ts'], { DATABASE_URL: `file:${join(dir, 'naive.db')}`, API_KEY: KEY, PORT: String(await freePort()) })
const naive = await drive(naiveServer, SECONDS)
const naiveOpen = await drive(naiveServer, OPEN_SECONDS, OPEN_RATE, true)
await stop(naiveServer.child)
record('naive receiver (SQLite FULL)', naive, bare.rps)
record(`naive receiver, ${EVENTBRIDGE}`, naiveOpen, bare.rps)
const naiveDb = new Database(join(dir, 'naive.db'), { readonly: true })
check('naive receiver', [naive, naiveOpen], new Set((naiveDb.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id)))
naiveDb.close()

// The same with a lean inbox of its own (NAIVE_INBOX=lean: id primary key, type, time, log_id, received at;
// no other index): what a developer following SaaSus's recipe writes, rather than the receiver's schema.
const leanServer = await start(['--import=tsx', 'bench/naive.ts'], { DATABASE_URL: `file:${join(dir, 'lean.db')}`, API_KEY: KEY, PORT: String(await freePort()), NAIVE_INBOX: 'lean' })
const lean = await drive(leanServer, SECONDS)
const leanOpen = await drive(leanServer, OPEN_SECONDS, OPEN_RATE, true)
await stop(leanServer.child)
record('naive receiver, lean inbox (SQLite FULL)', lean, bare.rps)
record(`naive receiver, lean inbox, ${EVENTBRIDGE}`, leanOpen, bare.rps)
const leanDb = new Database(join(dir, 'lean.db'), { readonly: true })
check('naive receiver, lean inbox', [lean, leanOpen], new Set((leanDb.prepare('SELECT id FROM lean_inbox').all() as Array<{ id: string }>).map(r => r.id)))
leanDb.close()

// The receiver with its database write taken out (bench/ceiling.ts): how far the rest of the receiver lets
// it go, whatever the database.
const ceiling = await startReceiver({ DATABASE_URL: `file:${join(dir, 'ceiling.db')}` }, ['--import=tsx', 'bench/ceiling.ts'])
const ceilingRun = await drive(ceiling, SECONDS)
await stop(ceiling.child)
// Its events table must have stayed empty: otherwise the write was not taken out and the row means nothing.
const ceilingDb = new Database(join(dir, 'ceiling.db'), { readonly: true })
const ceilingWrites = (ceilingDb.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n
ceilingDb.close()
if (ceilingWrites > 0) throw new Error(`bench/ceiling.ts wrote ${ceilingWrites} events: the receiver no longer writes through repository.record`)
record('receiver, database write skipped (ceiling)', ceilingRun, bare.rps)

const file = join(dir, 'bench.db')
const sqliteRuns = await receiverRuns('SQLite (FULL)', { DATABASE_URL: `file:${file}`, SQLITE_SYNCHRONOUS: 'FULL' })
const db = new Database(file, { readonly: true })
check('SQLite', sqliteRuns, new Set((db.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id)))
db.close()
const windowFile = join(dir, 'window.db')
const windowed = await windowRun('SQLite (FULL)', { DATABASE_URL: `file:${windowFile}`, SQLITE_SYNCHRONOUS: 'FULL' })
const windowDb = new Database(windowFile, { readonly: true })
check(`SQLite, BATCH_MAX_WAIT_MS=${WINDOW_MS}`, [windowed], new Set((windowDb.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id)))
windowDb.close()
const feedOffFile = join(dir, 'feed-off.db')
const feedOff = await feedOffRuns('SQLite (FULL)', { DATABASE_URL: `file:${feedOffFile}`, SQLITE_SYNCHRONOUS: 'FULL' })
const feedOffDb = new Database(feedOffFile, { readonly: true })
check('SQLite, change feed off', feedOff, new Set((feedOffDb.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id)))
feedOffDb.close()
rmSync(dir, { recursive: true, force: true })

// PostgreSQL when a server answers (synchronous_commit stays on: the server's default).
const admin = await postgresAdmin()
if (admin !== undefined) {
  const schema = `bench_${Date.now()}`
  const pgRuns = await receiverRuns('PostgreSQL', { DATABASE_URL: schemaUrl(schema) })
  const { rows } = await admin.query(`SELECT id FROM "${schema}".events`)
  check('PostgreSQL', pgRuns, new Set(rows.map((r: { id: string }) => r.id)))
  await admin.query(`DROP SCHEMA "${schema}" CASCADE`)
  const offSchema = `bench_feed_off_${Date.now()}`
  const pgFeedOff = await feedOffRuns('PostgreSQL', { DATABASE_URL: schemaUrl(offSchema) })
  const { rows: offRows } = await admin.query(`SELECT id FROM "${offSchema}".events`)
  check('PostgreSQL, change feed off', pgFeedOff, new Set(offRows.map((r: { id: string }) => r.id)))
  await admin.query(`DROP SCHEMA "${offSchema}" CASCADE`)
  await admin.end()
} else {
  console.log(skippedMessage())
}

const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
console.log(`\nmachine: ${machine}; ${CONNECTIONS} connections, ${SECONDS} s per closed-loop run\n`)
console.table(rows)
for (const c of checks) {
  console.log(`correctness, ${c.target}: ${c.acknowledged} distinct event ids answered 2xx, ${c.missing} of them not recorded` +
    ` (${c.recorded - (c.acknowledged - c.missing)} recorded but unanswered: in flight when the client stopped)`)
}
// Issue 17's goal: at the EventBridge rate, CPU per request at most 0.45 × the naive receiver's and p99 no
// worse; under saturation at least 7 × its throughput.
for (const c of comparisons) {
  console.log(`vs naive, ${c.target}: CPU per request ${(c.cpu / c.naiveCpu).toFixed(2)} × (goal ≤ 0.45), ` +
    `${(c.cpu / c.leanCpu).toFixed(2)} × the lean inbox's, p99 ${c.p99.toFixed(1)}` +
    ` vs ${c.naiveP99.toFixed(1)} ms` + (c.rps === undefined ? '' : `, closed loop ${(c.rps / c.naiveRps).toFixed(1)} × (goal ≥ 7)`))
}
console.log(`load average: ${loadavg().map(l => l.toFixed(2)).join(', ')}`)
console.log(`memory (SQLite): RSS ${Math.round(sqliteRuns[0].endRssMb)} MB after run 1, ${Math.round(sqliteRuns[1].endRssMb)} MB after run 2`)

mkdirSync(join(root, 'bench/results'), { recursive: true })
const date = new Date().toISOString()
writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify({ machine, date, seconds: SECONDS, connections: CONNECTIONS, rows, checks, comparisons, loadavg: loadavg() }, null, 2) + '\n')
writeFileSync(join(root, 'bench/results/latest.svg'), chartSvg(rows, `${machine}; ${SECONDS} s per closed-loop run; ${date.slice(0, 10)}`))
if (checks.some(c => c.missing > 0)) process.exitCode = 1

await slowDisk()
