import t, { type Test, type TestOpts } from 'tap'
import type { BuiltPlugins } from '@tapjs/test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { events } from '../helpers/events.js'
import { startServer, waitListening, type ServerProcess } from '../helpers/process.js'
import { stressEngines } from '../helpers/engines.js'

// `npm run test:stress` (issue 18): a real server fed the heaviest bodies a sender can make under
// BODY_LIMIT. Each must be answered within ANSWER_MS, /healthz (polled all along) must answer within
// HEALTH_MS, the server's RSS may grow by at most RSS_GROWTH_MB over its warmed-up size, and it must survive.

const KEY = 'stress-test-key-0123456789'
const ANSWER_MS = 5_000
const HEALTH_MS = 250
const RSS_GROWTH_MB = 150
const BODY_LIMIT = 2 * 1024 * 1024

const rssBytes = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1]) * 1024
}

interface Case { name: string, body: () => string, expect: number }

const time = '2026-05-19T02:22:58Z'
/** A valid create_tenant event with `n` attributes (in its request and its response body). */
const heavy = (n: number, prefix = 'attribute_'): Record<string, unknown> =>
  events.createTenant(`heavy-${randomUUID()}`, { name: 'h', attributes: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i])) }, { time })
const CASES: Case[] = [
  { name: 'a 2,000,001-byte array of a million zeros', body: () => `[${new Array(1_000_000).fill(0).join(',')}]`, expect: 413 },
  { name: '50k empty objects (150 KB)', body: () => JSON.stringify(new Array(50_000).fill({})), expect: 413 },
  { name: '100k empty objects', body: () => JSON.stringify(new Array(100_000).fill({})), expect: 413 },
  { name: '200k empty objects', body: () => JSON.stringify(new Array(200_000).fill({})), expect: 413 },
  { name: 'BATCH_MAX_ITEMS (1000) distinct invalid items of ~2 KB', body: () => JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ id: randomUUID(), n: i, pad: 'x'.repeat(2000) }))), expect: 200 },
  { name: '1000 valid events', body: () => JSON.stringify(Array.from({ length: 1000 }, (_, i) => events.createTenant(`stress-${randomUUID()}`, { name: `t${i}` }, { time }))), expect: 200 },
  { name: '100 valid + 900 invalid items', body: () => JSON.stringify([...Array.from({ length: 100 }, (_, i) => events.createTenant(`mix-${randomUUID()}`, { name: `t${i}` }, { time })), ...Array.from({ length: 900 }, (_, i) => ({ n: randomUUID(), i }))]), expect: 200 },
  { name: 'one 2 MB invalid event', body: () => JSON.stringify({ id: randomUUID(), time: 'never', pad: 'x'.repeat(BODY_LIMIT - 200) }), expect: 400 },
  { name: 'a 2 MB event of 1e309 numbers', body: () => `{"id":"${randomUUID()}","n":[${new Array(200_000).fill('1e309').join(',')}]}`, expect: 400 },
  { name: 'a 1.6 MB object of 100k keys', body: () => JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]))), expect: 400 },
  // Attributes are rows written in the event's transaction: MAX_ATTRIBUTES (1000) per object, and a batch of
  // heavy events goes into the write path a few at a time (WRITE_WINDOW_ROWS).
  { name: 'a valid event of 1000 attributes (MAX_ATTRIBUTES)', body: () => JSON.stringify(heavy(1000)), expect: 200 },
  { name: 'an event of 4900 attributes', body: () => JSON.stringify(heavy(4900)), expect: 400 },
  { name: '50 valid events of 1000 attributes each', body: () => JSON.stringify(Array.from({ length: 50 }, () => heavy(1000, 'a'))), expect: 200 }
]

async function post (port: number, body: string): Promise<{ status: number, ms: number, bytes: number, text: string }> {
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${port}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': KEY, connection: 'close' },
    body,
    signal: AbortSignal.timeout(30_000)
  })
  const text = await res.text()
  return { status: res.status, ms: performance.now() - started, bytes: Buffer.byteLength(text), text }
}

/** Polls /healthz every 20 ms until stopped; resolves with the slowest answer (ms). */
function pollHealth (port: number): { stop: () => Promise<number> } {
  let running = true
  let worst = 0
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      try {
        await (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) })).arrayBuffer()
      } catch {
        worst = Math.max(worst, 10_000)
      }
      worst = Math.max(worst, performance.now() - started)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })()
  return { stop: async () => { running = false; await loop; return worst } }
}

async function run (t: Test<BuiltPlugins, TestOpts> & BuiltPlugins, name: string, databaseUrl: string): Promise<void> {
  // Run as `npm start` runs it: the same allocator arenas and V8 heap growth.
  const server: ServerProcess = startServer({ PORT: '0', API_KEYS: KEY, DATABASE_URL: databaseUrl, BODY_LIMIT: String(BODY_LIMIT), MALLOC_ARENA_MAX: '2' },
    ['--heap-growing-percent=50'])
  t.teardown(() => { server.kill('SIGTERM') })
  const port = await waitListening(server)
  // Warm up: JIT, the database, the first quarantine rows.
  for (let i = 0; i < 3; i++) await post(port, JSON.stringify([events.createTenant(`warm-${i}`, { name: 'w' }, { time }), { warm: i }]))
  // Back-pressure samples the event loop every second and remembers the start-up (compiling, migrating)
  // for one sample: let it pass, as it would before any real traffic.
  await new Promise(resolve => setTimeout(resolve, 2500))
  const baseline = rssBytes(server.pid)
  let peak = baseline
  const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(server.pid)) }, 10)
  t.teardown(() => clearInterval(sampler))

  for (const c of CASES) {
    const body = c.body()
    t.ok(Buffer.byteLength(body) <= BODY_LIMIT, `${c.name}: ${Buffer.byteLength(body)} bytes, under BODY_LIMIT`)
    const before = peak
    const health = pollHealth(port)
    const answer = await post(port, body)
    const worstHealth = await health.stop()
    t.comment(`${c.name}: peak RSS so far ${Math.round(peak / 1024 / 1024)} MB${peak > before ? ` (+${Math.round((peak - before) / 1024 / 1024)} MB)` : ''}`)
    t.equal(answer.status, c.expect, `${c.name}: answered ${answer.status}${answer.status === c.expect ? '' : ` ${answer.text.slice(0, 200)}`}`)
    t.ok(answer.ms < ANSWER_MS, `${c.name}: answered in ${Math.round(answer.ms)} ms (${answer.bytes} bytes)`)
    t.ok(worstHealth < HEALTH_MS, `${c.name}: slowest /healthz meanwhile ${Math.round(worstHealth)} ms`)
  }
  clearInterval(sampler)
  const growthMb = (peak - baseline) / 1024 / 1024
  t.ok(growthMb <= RSS_GROWTH_MB, `${name}: peak RSS ${Math.round(peak / 1024 / 1024)} MB, grew ${Math.round(growthMb)} MB over the warmed-up ${Math.round(baseline / 1024 / 1024)} MB`)
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, `${name}: the process survived`)
  t.comment(server.output().split('\n').filter(l => l.includes('"level":50') || l.includes('"level":60')).slice(0, 5).join('\n'))
}

for (const engine of await stressEngines()) {
  t.test(`heavy bodies [${engine.name}]`, async t => {
    await run(t, engine.name === 'sqlite' ? 'SQLite' : 'PostgreSQL', engine.databaseUrl(t))
  })
}
