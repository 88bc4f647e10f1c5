import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { built } from './built.js'
import { postgresAdmin, schemaUrl, skippedMessage } from './postgresql.js'
import { workload } from './workload.js'
import { SAASUS } from '../test/helpers/saasus.js'
import { startStandIn } from './stand-in-process.js'

// `npm run bench:reconcile`: a snapshot of 10,000 tenants, 100,000 users and 150,000 memberships (each with
// a role) from the stand-in SaaSus API (its own process), applied by the built service (dist/) to an empty
// database, then again to the database already equal to it (a no-op), on SQLite (FULL) and PostgreSQL. While
// each run goes, events are POSTed to the service at BENCH_EVENT_RATE per second over HTTP; the table gives
// the run's seconds, the process's peak RSS, and the p99 / max latency of those events.

const { default: app, serverOptions }: typeof import('../src/app.js') = await import(built('app.js'))
const { loadConfig }: typeof import('../src/config.js') = await import(built('config.js'))

const EVENT_RATE = Number(process.env.BENCH_EVENT_RATE ?? 50)
/** Which engines to measure: `sqlite`, `postgresql` or both (comma-separated). */
const TARGETS = (process.env.BENCH_TARGETS ?? 'sqlite,postgresql').split(',')
const API_KEY = 'bench-key-0123456789abcdef'

const percentile = (sorted: number[], p: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]

interface Row { target: string, run: string, seconds: number, 'peak RSS MB': number, events: number, 'refused 503': number, 'event p99 ms': number, 'event max ms': number, 'loop delay max ms': number, drift: string }

/** Seconds of events alone before the runs: the peer the runs' event latencies compare with. */
const BASELINE_SECONDS = Number(process.env.BENCH_BASELINE_SECONDS ?? 10)

/**
 * One reconcile (or, for the baseline, a pause of BASELINE_SECONDS) while events arrive at EVENT_RATE;
 * latencies of the events answered meanwhile.
 */
async function measure (server: FastifyInstance, base: string, target: string, run: string): Promise<Row> {
  const load = workload()
  const latencies: number[] = []
  let failures = 0
  let refused = 0
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  let peak = process.memoryUsage().rss
  const rss = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 50)
  let sending = true
  const inFlight = new Set<Promise<void>>()
  const sender = (async () => {
    const interval = 1000 / EVENT_RATE
    let next = performance.now()
    while (sending) {
      const started = performance.now()
      const p = fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: load.next().body })
        .then(async res => { await res.arrayBuffer(); if (res.status === 503) refused++; else if (res.status !== 200) failures++; latencies.push(performance.now() - started) })
        .catch(() => { failures++ })
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
      next += interval
      await new Promise(resolve => setTimeout(resolve, Math.max(0, next - performance.now())))
    }
  })()
  const started = performance.now()
  const result = run === 'events only'
    ? await new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), BASELINE_SECONDS * 1000))
    : await server.reconciler!.run({ trigger: 'manual' })
  const seconds = (performance.now() - started) / 1000
  sending = false
  await sender
  await Promise.all(inFlight)
  clearInterval(rss)
  loop.disable()
  if (result !== undefined && result.outcome !== 'succeeded') throw new Error(`${target} ${run}: ${result.outcome}: ${result.error ?? ''}`)
  if (failures > 0) throw new Error(`${target} ${run}: ${failures} events failed`)
  const sorted = [...latencies].sort((a, b) => a - b)
  const d = result?.drift
  return {
    target,
    run,
    seconds: Number(seconds.toFixed(1)),
    'peak RSS MB': Math.round(peak / 1048576),
    events: latencies.length,
    'refused 503': refused,
    'event p99 ms': Number(percentile(sorted, 0.99).toFixed(1)),
    'event max ms': Number(sorted[sorted.length - 1].toFixed(1)),
    'loop delay max ms': Math.round(loop.max / 1e6),
    drift: d === undefined ? '-' : `${d.tenants.created + d.users.created + d.memberships.created + d.role_assignments.created} created, ${d.tenants.unchanged + d.users.unchanged + d.memberships.unchanged + d.role_assignments.unchanged} unchanged`
  }
}

async function bench (target: string, databaseUrl: string, standIn: string): Promise<Row[]> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    API_KEYS: API_KEY,
    LOG_LEVEL: 'warn',
    SAASUS_SAAS_ID: SAASUS.saasId,
    SAASUS_API_KEY: SAASUS.apiKey,
    SAASUS_SECRET_KEY: SAASUS.secretKey,
    SAASUS_API_URL_BASE: standIn,
    SAASUS_TIMEOUT_MS: '120000',
    RECONCILE_START_DELAY_MS: '86400000',
    ...(process.env.RECONCILE_CHUNK_SIZE === undefined ? {} : { RECONCILE_CHUNK_SIZE: process.env.RECONCILE_CHUNK_SIZE }),
    ...(process.env.RECONCILE_SYNCHRONOUS_COMMIT === undefined ? {} : { RECONCILE_SYNCHRONOUS_COMMIT: process.env.RECONCILE_SYNCHRONOUS_COMMIT })
  })
  const server = Fastify(serverOptions(config))
  await server.register(fp(app), { config })
  const base = await server.listen({ host: '127.0.0.1', port: 0 })
  try {
    const rows = [
      await measure(server, base, target, 'events only'),
      await measure(server, base, target, 'first load'),
      await measure(server, base, target, 'no-op re-run')
    ]
    for (const row of rows) process.stderr.write(`${JSON.stringify(row)}\n`)
    return rows
  } finally {
    await server.close()
  }
}

const standIn = await startStandIn()
const rows: Row[] = []
try {
  if (TARGETS.includes('sqlite')) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-reconcile-'))
    try {
      rows.push(...await bench('SQLite (FULL)', `file:${join(dir, 'receiver.db')}`, standIn.url))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const admin = TARGETS.includes('postgresql') ? await postgresAdmin() : undefined
  if (admin === undefined) {
    if (TARGETS.includes('postgresql')) process.stderr.write(`${skippedMessage()}\n`)
  }
  else {
    const schema = `bench_reconcile_${process.pid}`
    try {
      rows.push(...await bench('PostgreSQL', schemaUrl(schema), standIn.url))
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.end()
    }
  }
} finally {
  standIn.stop()
}
console.table(rows)
