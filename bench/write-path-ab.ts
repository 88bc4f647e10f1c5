import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BatchItem } from '../src/db/writing/batch-write.js'
import { workload } from './workload.js'

// `node --import=tsx bench/write-path-ab.ts <checkout>,<checkout>[,...] [events per batch] [chunks]` (issue 24):
// the write path alone (Repository.writeNow in a loop, no HTTP) of several checkouts (each with dist/ built) in
// ONE process, in chunks of ~CHUNK_EVENTS events (default 300) taking turns, the order reversed every other
// chunk, so that the host's load drift hits each alike. Prints each one's CPU per event: the whole process's
// (utime + stime from /proc/self/stat, 10 ms ticks, summed over its chunks; the other checkouts' writer
// threads idle meanwhile) and wall time. Whole-server runs on this host differ by ±15 % from one to the next;
// this differs by a few per cent, enough to see a change of 50 µs per batch.

const roots = process.argv[2]?.split(',') ?? []
if (roots.length === 0) throw new Error('usage: bench/write-path-ab.ts <checkout>,<checkout>[,...] [events per batch] [chunks]')
const size = Number(process.argv[3] ?? 1)
const chunks = Number(process.argv[4] ?? 16)
const perChunk = Math.max(1, Math.round(Number(process.env.CHUNK_EVENTS ?? 300) / size))

/** This process's CPU time so far, in ticks of 10 ms (all its threads). */
function ticks (): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

interface Target { root: string, write: (items: BatchItem[]) => Promise<unknown>, close: () => Promise<void>, batch: () => BatchItem[], ticks: number, wall: number, events: number }

const dir = mkdtempSync(join(process.env.BENCH_SLOW_DIR ?? '/dev/shm', 'write-path-ab-'))
const load = workload()
const targets: Target[] = []
try {
  for (const [i, root] of roots.entries()) {
    const { openRepository } = await import(join(root, 'dist/db/open.js'))
    const { loadConfig } = await import(join(root, 'dist/config.js'))
    const { parseEvent } = await import(join(root, 'dist/events/parse.js'))
    const { repository } = await openRepository(loadConfig({ DATABASE_URL: `file:${join(dir, `${i}.db`)}`, API_KEYS: 'write-path-bench-key-0123456789' }))
    const batch = (): BatchItem[] => Array.from({ length: size }, () => {
      const parsed = parseEvent(JSON.parse(load.next().body))
      if (!parsed.ok) throw new Error(`the workload made an invalid event: ${parsed.problem.message}`)
      return { event: parsed.event, plan: parsed.plan }
    })
    targets.push({ root, write: async items => await repository.writeNow(items), close: async () => await repository.close(), batch, ticks: 0, wall: 0, events: 0 })
  }
  // Warm-up: the JIT's compilations come first, not in the first target's chunks.
  for (const target of targets) for (let i = 0; i < Math.ceil(200 / size) + 20; i++) await target.write(target.batch())
  for (let c = 0; c < chunks; c++) {
    for (const target of c % 2 === 0 ? targets : [...targets].reverse()) {
      const batches = Array.from({ length: perChunk }, () => target.batch())
      const t0 = ticks()
      const w0 = performance.now()
      for (const items of batches) await target.write(items)
      target.wall += performance.now() - w0
      target.ticks += ticks() - t0
      target.events += perChunk * size
    }
  }
  for (const t of targets) {
    console.log(`${t.root}: ${size} event(s) per batch, ${t.events} events: CPU ${(t.ticks * 10_000 / t.events).toFixed(0)} µs per event, wall ${(t.wall * 1000 / t.events).toFixed(0)} µs`)
  }
} finally {
  for (const target of targets) await target.close()
  rmSync(dir, { recursive: true, force: true })
}
