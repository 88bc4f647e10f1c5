import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BatchItem } from '../src/db/writing/batch-write.js'
import { built } from './built.js'
import { postgresAdmin, schemaUrl, skippedMessage } from './postgresql.js'
import { workload } from './workload.js'

// `npm run bench:write`: the write path alone, without HTTP: parsed events written with Repository.writeNow in
// a loop, one transaction per batch, for batches of 1 event (what a quiet receiver writes) and of 40 (what
// group commit writes under load), on SQLite (FULL) and on PostgreSQL when a server answers. Prints wall time
// and CPU per event: this process's, and all processes' from /proc/stat (PostgreSQL's server included).
// Each with the change feed recorded (as the service runs) and without it (Repository's `feed: false`), to
// say what the feed costs; batches one after another. On PostgreSQL the same again with BENCH_CONCURRENCY
// (default 4, as the service's BATCH_CONCURRENCY there) batches written at once, feed off and on in the same
// run: what the feed's locking costs concurrent batches (events per second). BENCH_CONCURRENT_ONLY=1 runs
// only that part.
// The built service is loaded from dist/ (as `npm start` runs it), so `npm run build` comes first.

const { openRepository }: typeof import('../src/db/open.js') = await import(built('db/open.js'))
const { Repository }: typeof import('../src/db/repository.js') = await import(built('db/repository.js'))
const { loadConfig }: typeof import('../src/config.js') = await import(built('config.js'))
const { parseEvent }: typeof import('../src/events/parse.js') = await import(built('events/parse.js'))

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4)
const CONCURRENT_ONLY = process.env.BENCH_CONCURRENT_ONLY === '1'
const WARM_UP = 50

/** CPU time of all processes so far, in µs (user, nice, system, irq, softirq; 100 ticks per second). */
function allCpuMicros (): number {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) * 10_000
}

const load = workload()
function batch (size: number): BatchItem[] {
  return Array.from({ length: size }, () => {
    const parsed = parseEvent(JSON.parse(load.next().body))
    if (!parsed.ok) throw new Error(`the workload made an invalid event: ${parsed.problem.message}`)
    return { event: parsed.event, plan: parsed.plan }
  })
}

interface Row { target: string, feed: string, 'events/batch': number, 'at once': number, 'events/s': number, 'wall µs/event': number, 'process CPU µs/event': number, 'all CPUs µs/event': number }
const rows: Row[] = []

async function measure (target: string, url: string, size: number, feed: boolean, concurrency = 1): Promise<void> {
  // The configuration's defaults (SQLite FULL among them), whatever this shell's environment says.
  const opened = await openRepository(loadConfig({ DATABASE_URL: url, API_KEYS: 'write-path-bench-key-0123456789' }))
  const repository = feed ? opened.repository : new Repository(opened.repository.prisma, opened.repository.dialect, { ...opened.repository.limits, feed: false })
  try {
    for (let i = 0; i < WARM_UP; i++) await repository.writeNow(batch(size))
    const batches = Array.from({ length: BATCHES }, () => batch(size))
    const events = BATCHES * size
    const all = allCpuMicros()
    const cpu = process.cpuUsage()
    const started = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < batches.length) await repository.writeNow(batches[next++])
    }))
    const wall = (performance.now() - started) * 1000
    const used = process.cpuUsage(cpu)
    rows.push({
      target,
      feed: feed ? 'on' : 'off',
      'events/batch': size,
      'at once': concurrency,
      'events/s': Math.round(events / (wall / 1e6)),
      'wall µs/event': Math.round(wall / events),
      'process CPU µs/event': Math.round((used.user + used.system) / events),
      'all CPUs µs/event': Math.round((allCpuMicros() - all) / events)
    })
  } finally {
    await repository.close()
  }
}

const dir = mkdtempSync(join(tmpdir(), 'write-path-'))
try {
  for (const size of CONCURRENT_ONLY ? [] : [1, 40]) {
    for (const feed of [false, true]) await measure('SQLite (FULL)', `file:${join(dir, `w${size}-${String(feed)}.db`)}`, size, feed)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const admin = await postgresAdmin()
if (admin !== undefined) {
  const runs = [
    ...(CONCURRENT_ONLY ? [] : [{ size: 1, concurrency: 1 }, { size: 40, concurrency: 1 }]),
    { size: 1, concurrency: CONCURRENCY }, { size: 16, concurrency: CONCURRENCY }
  ]
  for (const { size, concurrency } of runs) {
    for (const feed of [false, true]) {
      const schema = `write_path_${Date.now()}`
      try {
        await measure('PostgreSQL', schemaUrl(schema), size, feed, concurrency)
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      }
    }
  }
  await admin.end()
} else {
  console.log(skippedMessage())
}

console.log(`${BATCHES} batches after ${WARM_UP} to warm up`)
console.table(rows)
