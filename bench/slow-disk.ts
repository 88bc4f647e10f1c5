import { execFile, type ChildProcess } from 'node:child_process'
import { accessSync, chmodSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { openLoop, percentile } from './open-loop.js'
import { workload } from './workload.js'
import { cpuMs } from './process-stats.js'
import { PrivateCluster } from './private-postgresql.js'
import { freePort } from '../test/helpers/process.js'
import type { Started } from './receiver-process.js'

// The slow-disk section of `npm run bench` (issue 24): EventBridge's 300 requests/s, open loop, one connection
// per request, with every flush (fsync, fdatasync) of the database's process delayed by 0, 2, 5, 10 and 20 ms
// by bench/slow-flush.c (LD_PRELOAD; compiled here with the system's `cc`), for the naive receiver, the
// receiver on SQLite and the receiver on PostgreSQL (a private cluster started under the same shim:
// bench/private-postgresql.ts). The databases live in BENCH_SLOW_DIR (default /dev/shm, a tmpfs whose flushes
// cost nothing, so that the delay is the flush time whatever disk this machine has; else the temp dir).
// BENCH_SLOW_SECONDS (default 15: 4,500 requests) per run, BENCH_SLOW_DELAYS (default 0,2,5,10,20).
// BENCH_BEFORE=<a checkout with dist/ built>: that code too, on SQLite (the receiver before a change).

const SECONDS = Number(process.env.BENCH_SLOW_SECONDS ?? 15)
const DELAYS = (process.env.BENCH_SLOW_DELAYS ?? '0,2,5,10,20').split(',').map(Number)
const BEFORE = process.env.BENCH_BEFORE
const RATE = 300
/** EventBridge gives up on a request after 5 s and sends it again. */
const GIVES_UP_MS = 5000

const run = promisify(execFile)

export interface SlowDiskRow extends Record<string, string | number> {
  target: string
  'flush +ms': number
  requests: number
  '2xx': number
  'p50 ms': number
  'p99 ms': number
  'max ms': number
  'over 5 s': number
  'CPU ms/req': number
  'non-2xx': number
  errors: number
}

export interface SlowDiskCheck { target: string, acknowledged: number, missing: number }

export interface SlowDiskHooks {
  /** The built receiver (of `root`, when given: BENCH_BEFORE), with `env` added to `npm start`'s. */
  startReceiver: (env: Record<string, string>, root?: string) => Promise<Started>
  startNaive: (env: Record<string, string>) => Promise<Started>
  stop: (child: ChildProcess) => Promise<void>
  headers: Record<string, string>
}

/** A directory for the run's databases and the shim, which the cluster's `postgres` user may enter. */
function slowDir (): string {
  const wanted = process.env.BENCH_SLOW_DIR ?? '/dev/shm'
  let dir: string
  try {
    accessSync(wanted, constants.W_OK)
    dir = mkdtempSync(join(wanted, 'receiver-slow-disk-'))
  } catch {
    dir = mkdtempSync(join(tmpdir(), 'receiver-slow-disk-'))
  }
  chmodSync(dir, 0o755)
  return dir
}

const round = (n: number): number => Math.round(n * 10) / 10

/** Runs the section; returns a row per target and delay, and whether every 2xx was stored. */
export async function slowDiskSection (hooks: SlowDiskHooks): Promise<{ rows: SlowDiskRow[], checks: SlowDiskCheck[], dir: string }> {
  const dir = slowDir()
  const shim = join(dir, 'slow-flush.so')
  await run('cc', ['-shared', '-fPIC', '-O2', '-o', shim, new URL('slow-flush.c', import.meta.url).pathname, '-ldl'])
  const cluster = await PrivateCluster.create(join(dir, 'postgresql'), await freePort())
  const rows: SlowDiskRow[] = []
  const checks: SlowDiskCheck[] = []

  const measure = async (target: string, delay: number, started: Started, stored: () => Promise<Set<string>>): Promise<void> => {
    const pid = started.child.pid!
    const before = cpuMs(pid)
    const result = await openLoop(started.url, RATE, SECONDS, workload(), hooks.headers, true)
    const cpu = (cpuMs(pid) - before) / result.requests
    await hooks.stop(started.child)
    const ids = await stored()
    // Distinct ids: the workload sends some events twice, as EventBridge does.
    checks.push({ target: `${target}, flush +${delay} ms`, acknowledged: result.ok.size, missing: [...result.ok].filter(id => !ids.has(id)).length })
    const row: SlowDiskRow = {
      target,
      'flush +ms': delay,
      requests: result.requests,
      '2xx': result.latencies.length - result.non2xx,
      'p50 ms': round(percentile(result.latencies, 50)),
      'p99 ms': round(percentile(result.latencies, 99)),
      'max ms': round(result.latencies.at(-1) ?? 0),
      'over 5 s': result.latencies.filter(ms => ms > GIVES_UP_MS).length,
      'CPU ms/req': Math.round(cpu * 100) / 100,
      'non-2xx': result.non2xx,
      errors: result.errors
    }
    rows.push(row)
    console.log(JSON.stringify(row))
  }
  const sqliteIds = (file: string) => async (): Promise<Set<string>> => {
    const db = new Database(file, { readonly: true })
    try {
      return new Set((db.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id))
    } finally {
      db.close()
    }
  }

  try {
    for (const delay of DELAYS) {
      const slow = { LD_PRELOAD: shim, FLUSH_DELAY_MS: String(delay) }

      const naiveFile = join(dir, `naive-${delay}.db`)
      await measure('naive receiver (SQLite FULL)', delay, await hooks.startNaive({ ...slow, DATABASE_URL: `file:${naiveFile}` }), sqliteIds(naiveFile))

      const file = join(dir, `receiver-${delay}.db`)
      await measure('receiver, SQLite (FULL)', delay, await hooks.startReceiver({ ...slow, DATABASE_URL: `file:${file}`, SQLITE_SYNCHRONOUS: 'FULL' }), sqliteIds(file))

      if (BEFORE !== undefined) {
        const beforeFile = join(dir, `before-${delay}.db`)
        await measure('receiver before, SQLite (FULL)', delay,
          await hooks.startReceiver({ ...slow, DATABASE_URL: `file:${beforeFile}`, SQLITE_SYNCHRONOUS: 'FULL' }, BEFORE), sqliteIds(beforeFile))
      }

      // The server's own flushes are the slow ones: it runs under the shim, the receiver does not need to.
      await cluster.start(slow)
      try {
        const schema = `slow_${delay}`
        await measure('receiver, PostgreSQL', delay, await hooks.startReceiver({ DATABASE_URL: cluster.url(schema) }), async () => {
          const client = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${cluster.port}/postgres` })
          await client.connect()
          try {
            return new Set((await client.query(`SELECT id FROM "${schema}".events`)).rows.map((r: { id: string }) => r.id))
          } finally {
            await client.end()
          }
        })
      } finally {
        await cluster.stop()
      }
    }
  } finally {
    await cluster.remove()
    rmSync(dir, { recursive: true, force: true })
  }
  return { rows, checks, dir }
}
