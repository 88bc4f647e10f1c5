import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { percentile } from './open-loop.js'
import { startReceiverProcess } from './receiver-process.js'
import { workload } from './workload.js'
import { freePort } from '../test/helpers/process.js'
import { SAASUS } from '../test/helpers/saasus.js'
import { startStandIn } from './stand-in-process.js'

// `npm run build && node --import=tsx bench/reconcile-beside.ts`: `npm run reconcile` (dist/scripts/reconcile.js,
// a process of its own) beside the service (dist/server.js) on one SQLite file, while events are POSTed to the
// service at BENCH_EVENT_RATE per second (default 200): the first load of a snapshot from the stand-in SaaSus
// API (bench/saasus-stand-in.ts; by default a tenth of bench:reconcile's size: 1,000 tenants, 10,000 users,
// 15,000 memberships), then BENCH_RUNS - 1 no-op re-runs, after BENCH_BASELINE_SECONDS (default 20) of events
// alone (the peer). Per row: the run's outcome and seconds, the events answered meanwhile with their p99 and
// maximum latency, the 503s (back-pressure) and the failures by reason, and the load average at its end.

const root = fileURLToPath(new URL('..', import.meta.url))
const EVENT_RATE = Number(process.env.BENCH_EVENT_RATE ?? 200)
const RUNS = Number(process.env.BENCH_RUNS ?? 2)
/** Seconds of events alone first: the peer the runs' event latencies compare with. */
const BASELINE_SECONDS = Number(process.env.BENCH_BASELINE_SECONDS ?? 20)
const API_KEY = 'bench-key-0123456789abcdef'
const sizes = {
  BENCH_TENANTS: process.env.BENCH_TENANTS ?? '1000',
  BENCH_USERS: process.env.BENCH_USERS ?? '10000',
  BENCH_MEMBERSHIPS: process.env.BENCH_MEMBERSHIPS ?? '15000'
}

/** dist/scripts/reconcile.js --json to its end: its exit code, its report, and how long it took. */
async function reconcile (env: Record<string, string>): Promise<{ code: number | null, output: string, seconds: number }> {
  const started = performance.now()
  // The events' own tenants and users are not in the stand-in's SaaSus: the first load deletes every one the
  // baseline's events made, which the mass-deletion guard would refuse.
  const child = spawn(process.execPath, ['dist/scripts/reconcile.js', '--json', '--allow-mass-delete'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => { output += String(d) })
  child.stderr.on('data', d => { output += String(d) })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, output, seconds: (performance.now() - started) / 1000 }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-beside-'))
const standIn = await startStandIn(sizes)
const env = {
  DATABASE_URL: `file:${join(dir, 'receiver.db')}`,
  API_KEYS: API_KEY,
  LOG_LEVEL: 'error',
  NODE_ENV: 'production',
  SAASUS_SAAS_ID: SAASUS.saasId,
  SAASUS_API_KEY: SAASUS.apiKey,
  SAASUS_SECRET_KEY: SAASUS.secretKey,
  SAASUS_API_URL_BASE: standIn.url,
  SAASUS_TIMEOUT_MS: '120000',
  // The service never reconciles by itself here: only the command does.
  RECONCILE_START_DELAY_MS: '86400000'
}
const service = await startReceiverProcess(root, await freePort(), ['dist/server.js'], env)
const rows: Array<Record<string, unknown>> = []
try {
  // The peer: the same events for BENCH_BASELINE_SECONDS with no run beside the service.
  const baseline = async (): Promise<{ code: number | null, output: string, seconds: number }> => {
    await new Promise(resolve => setTimeout(resolve, BASELINE_SECONDS * 1000))
    return { code: 0, output: '{"outcome":"-"}', seconds: BASELINE_SECONDS }
  }
  for (let run = 0; run <= RUNS; run++) {
    const label = run === 0 ? 'events only' : run === 1 ? 'first load' : 'no-op re-run'
    const load = workload()
    const latencies: number[] = []
    let failed = 0
    let refused = 0
    const failures = new Map<string, number>()
    const fail = (why: string): void => { failed++; failures.set(why, (failures.get(why) ?? 0) + 1) }
    let sending = true
    const inFlight = new Set<Promise<void>>()
    const sender = (async () => {
      const interval = 1000 / EVENT_RATE
      let next = performance.now()
      while (sending) {
        const started = performance.now()
        const p = fetch(`${service.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: load.next().body })
          .then(async res => { await res.arrayBuffer(); if (res.status === 503) refused++; else if (res.status !== 200) fail(`HTTP ${res.status}`); latencies.push(performance.now() - started) })
          .catch((err: Error) => { fail((err.cause as Error | undefined)?.message ?? err.message) })
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
        next += interval
        await new Promise(resolve => setTimeout(resolve, Math.max(0, next - performance.now())))
      }
    })()
    // A second of events first: the run starts beside a service already writing.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const result = run === 0 ? await baseline() : await reconcile(env)
    sending = false
    await sender
    await Promise.all(inFlight)
    const sorted = [...latencies].sort((a, b) => a - b)
    let outcome: string
    try {
      outcome = JSON.parse(result.output.split('\n')[0]).outcome
    } catch {
      outcome = `exit ${String(result.code)}: ${result.output.slice(0, 200)}`
    }
    const row = {
      run: label,
      outcome,
      error: outcome === 'succeeded' || outcome === '-' ? '' : result.output.split('\n').slice(-2).join(' ').slice(0, 160),
      seconds: Number(result.seconds.toFixed(1)),
      events: latencies.length,
      'events/s': Number((latencies.length / (result.seconds + 1)).toFixed(0)),
      'refused 503': refused,
      failed: failed === 0 ? 0 : JSON.stringify(Object.fromEntries(failures)),
      'event p99 ms': Number(percentile(sorted, 0.99).toFixed(1)),
      'event max ms': Number((sorted[sorted.length - 1] ?? 0).toFixed(1)),
      load: os.loadavg()[0].toFixed(1)
    }
    process.stderr.write(`${JSON.stringify(row)}\n`)
    rows.push(row)
  }
} finally {
  service.child.kill('SIGTERM')
  standIn.stop()
  rmSync(dir, { recursive: true, force: true })
}
console.table(rows)
