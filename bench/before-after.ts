import type { ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openLoop, percentile } from './open-loop.js'
import { closedLoop } from './closed-loop.js'
import { workload } from './workload.js'
import { cpuMs } from './process-stats.js'
import type { Started } from './receiver-process.js'

// `BENCH_ONLY=before-after BENCH_BEFORE=<a checkout with dist/ built>[,<another>...] npm run bench` (issue 24):
// the receiver before a change against this one on SQLite (FULL) at flush +0, interleaved so that the host's
// load drift hits every side alike. Each round starts every target afresh on a new database in BENCH_SLOW_DIR
// (default /dev/shm, a tmpfs whose flushes cost nothing, so that this machine's disk does not decide), drives
// it with the closed loop (64 connections, autocannon, BENCH_SECONDS) and then EventBridge's 300 requests/s
// open loop with one connection per request (BENCH_OPEN_SECONDS), and stops it. The receivers' order rotates
// from round to round (before, this; this, before; ...) and the lean naive receiver (NAIVE_INBOX=lean, the
// yardstick) runs last in every round. BENCH_ROUNDS rounds (default 4). Per target: the median and the range
// of each figure over the rounds, and the receivers' batch sizes (GET /metrics).
// BENCH_WITHOUT_INDEXES=<index>[,<index>...] adds this receiver once more, with those indexes dropped from its
// database right after it started: what writing them costs per event (a measurement, not a configuration).

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const WITHOUT_INDEXES = (process.env.BENCH_WITHOUT_INDEXES ?? '').split(',').filter(Boolean)
const RATE = 300
const CONNECTIONS = 64

export interface BeforeAfterHooks {
  startReceiver: (env: Record<string, string>, root?: string) => Promise<Started>
  startNaive: (env: Record<string, string>) => Promise<Started>
  stop: (child: ChildProcess) => Promise<void>
  headers: Record<string, string>
  seconds: number
  openSeconds: number
}

/** One target's figures in one round. */
export interface Sample {
  target: string
  round: number
  /** Closed loop: requests/s and the server's CPU per request, ms. */
  closedRps: number
  closedCpu: number
  /** Events per transaction in the closed loop (the receiver's receiver_db_batch_events; 0 for the naive one). */
  closedBatch: number
  /** Open loop, 300 requests/s, one connection per request. */
  openCpu: number
  openBatch: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  /** Envelope ids answered 2xx (both loops) and how many of them are not in the database. */
  acknowledged: number
  missing: number
  /** The host's 1-minute load average when the sample ended. */
  load: number
}

export interface Summary { target: string, figure: string, median: number, min: number, max: number, values: number[] }

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const round2 = (n: number): number => Math.round(n * 100) / 100

function dataDir (): string {
  const wanted = process.env.BENCH_SLOW_DIR ?? '/dev/shm'
  try {
    accessSync(wanted, constants.W_OK)
    return mkdtempSync(join(wanted, 'receiver-before-after-'))
  } catch {
    return mkdtempSync(join(tmpdir(), 'receiver-before-after-'))
  }
}

async function closedLoopRun (target: Started, seconds: number, headers: Record<string, string>, ok: Set<string>): Promise<{ rps: number, requests: number }> {
  const result = await closedLoop(target.url, CONNECTIONS, seconds, headers, ok)
  return { rps: result.requests.average, requests: result.requests.total }
}

/** The receiver's batches so far (GET /metrics: receiver_db_batch_events), or zeros where there is no such metric. */
async function batches (target: Started): Promise<{ sum: number, count: number }> {
  try {
    const text = await (await fetch(`${target.url}/metrics`)).text()
    const value = (name: string): number => Number(new RegExp(`^receiver_db_batch_events_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
    return { sum: value('sum'), count: value('count') }
  } catch {
    return { sum: 0, count: 0 }
  }
}
const perBatch = (a: { sum: number, count: number }, b: { sum: number, count: number }): number =>
  b.count === a.count ? 0 : round2((b.sum - a.sum) / (b.count - a.count))

const storedIds = (file: string, table: string): Set<string> => {
  const db = new Database(file, { readonly: true })
  try {
    return new Set((db.prepare(`SELECT id FROM ${table}`).all() as Array<{ id: string }>).map(r => r.id))
  } finally {
    db.close()
  }
}

/** Runs the rounds; returns every sample and the summary per target and figure. */
export async function beforeAfterSection (before: string[], hooks: BeforeAfterHooks): Promise<{ samples: Sample[], summary: Summary[] }> {
  const dir = dataDir()
  const samples: Sample[] = []
  interface Target { key: string, name: string, table: string, start: (env: Record<string, string>) => Promise<Started> }
  const receivers: Target[] = [
    ...before.map((at, i): Target => ({
      key: `before-${i}`,
      name: `receiver before (${at}), SQLite (FULL)`,
      table: 'events',
      start: async env => await hooks.startReceiver({ ...env, SQLITE_SYNCHRONOUS: 'FULL' }, at)
    })),
    { key: 'now', name: 'receiver, SQLite (FULL)', table: 'events', start: async env => await hooks.startReceiver({ ...env, SQLITE_SYNCHRONOUS: 'FULL' }) },
    ...(WITHOUT_INDEXES.length === 0
      ? []
      : [{
          key: 'without-indexes',
          name: `receiver, SQLite (FULL), without ${WITHOUT_INDEXES.join(', ')}`,
          table: 'events',
          start: async (env: Record<string, string>) => {
            const started = await hooks.startReceiver({ ...env, SQLITE_SYNCHRONOUS: 'FULL' })
            const db = new Database(env.DATABASE_URL.replace(/^file:/, ''), { timeout: 5000 })
            try {
              for (const index of WITHOUT_INDEXES) db.exec(`DROP INDEX "${index}"`)
            } finally {
              db.close()
            }
            return started
          }
        }])
  ]
  const lean: Target = { key: 'lean', name: 'naive receiver, lean inbox', table: 'lean_inbox', start: async env => await hooks.startNaive({ ...env, NAIVE_INBOX: 'lean' }) }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = [...receivers.slice(r % receivers.length), ...receivers.slice(0, r % receivers.length), lean]
      for (const target of order) {
        const file = join(dir, `${target.key}-${r}.db`)
        const started = await target.start({ DATABASE_URL: `file:${file}` })
        const pid = started.child.pid!
        const ok = new Set<string>()
        const b0 = await batches(started)
        const cpu0 = cpuMs(pid)
        const closed = await closedLoopRun(started, hooks.seconds, hooks.headers, ok)
        const cpu1 = cpuMs(pid)
        const b1 = await batches(started)
        const open = await openLoop(started.url, RATE, hooks.openSeconds, workload(), hooks.headers, true)
        const cpu2 = cpuMs(pid)
        const b2 = await batches(started)
        await hooks.stop(started.child)
        for (const id of open.ok) ok.add(id)
        const ids = storedIds(file, target.table)
        const sample: Sample = {
          target: target.name,
          round: r + 1,
          closedRps: Math.round(closed.rps),
          closedCpu: round2((cpu1 - cpu0) / Math.max(1, closed.requests)),
          closedBatch: perBatch(b0, b1),
          openCpu: round2((cpu2 - cpu1) / open.requests),
          openBatch: perBatch(b1, b2),
          p50: Math.round(percentile(open.latencies, 50) * 10) / 10,
          p99: Math.round(percentile(open.latencies, 99) * 10) / 10,
          non2xx: open.non2xx,
          errors: open.errors,
          acknowledged: ok.size,
          missing: [...ok].filter(id => !ids.has(id)).length,
          load: round2(loadavg()[0])
        }
        samples.push(sample)
        console.log(JSON.stringify(sample))
        for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const summary: Summary[] = []
  for (const { name } of [...receivers, lean]) {
    for (const figure of ['openCpu', 'p50', 'p99', 'openBatch', 'closedRps', 'closedCpu', 'closedBatch'] as const) {
      const values = samples.filter(s => s.target === name).map(s => s[figure])
      summary.push({ target: name, figure, median: round2(median(values)), min: Math.min(...values), max: Math.max(...values), values })
    }
  }
  return { samples, summary }
}
