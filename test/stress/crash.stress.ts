import t, { type Test, type TestOpts } from 'tap'
import type { BuiltPlugins } from '@tapjs/test'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { tempDir } from '../helpers/app.js'
import { events } from '../helpers/events.js'
import { startServer, waitListening } from '../helpers/process.js'
import { sqliteFilePath } from '../../src/db/engines/sqlite.js'

// `npm run test:stress`: a real server under load is killed with SIGKILL, then restarted on the same
// database. Every event that was answered 2xx must be there. Bounded: 127.0.0.1 only, at most MAX_EVENTS
// events and MAX_MS of load; the kill comes after KILL_AFTER_ACKS answers or KILL_AFTER_MS, whichever is first.
// Once on this machine's disk, once on a slow one: every flush of the server delayed by SLOW_FLUSH_MS
// (bench/slow-flush.c, LD_PRELOAD, compiled with the system's `cc`), where SQLite's commits wait in its
// writer thread while the server goes on reading requests.

const KEY = 'stress-test-key-0123456789'
const MAX_EVENTS = Number(process.env.STRESS_EVENTS ?? 20_000)
const MAX_MS = 20_000
const CONCURRENCY = 16
const KILL_AFTER_ACKS = Number(process.env.STRESS_KILL_AFTER ?? 1_500)
const KILL_AFTER_MS = 5_000
const SLOW_FLUSH_MS = Number(process.env.STRESS_SLOW_FLUSH_MS ?? 10)

async function killMidRun (t: Test<BuiltPlugins, TestOpts> & BuiltPlugins, slow: Record<string, string>): Promise<void> {
  const DATABASE_URL = `file:${join(tempDir(t), 'crash.db')}`
  const env = { PORT: '0', API_KEYS: KEY, DATABASE_URL, ...slow }
  const server = startServer(env)
  const port = await waitListening(server)

  const acked: string[] = []
  const failed = new Map<string, number>()
  let sent = 0
  let killed = false
  const started = Date.now()
  const deadline = started + MAX_MS

  const worker = async (w: number): Promise<void> => {
    while (sent < MAX_EVENTS && Date.now() < deadline && !killed) {
      const n = sent++
      const tenant = `t-${w}-${n % 50}`
      const event = n % 3 === 0
        ? events.createTenant(tenant, { name: `tenant ${n}` }, { time: new Date(Date.UTC(2026, 4, 19) + n * 1000).toISOString().replace('.000', '') })
        : events.updateTenant(tenant, { name: `tenant ${n}` }, { time: new Date(Date.UTC(2026, 4, 19) + n * 1000).toISOString().replace('.000', '') })
      try {
        const res = await fetch(`http://127.0.0.1:${port}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': KEY, connection: 'close' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(5_000)
        })
        await res.arrayBuffer()
        if (res.status >= 200 && res.status < 300) acked.push(event.id)
        else failed.set(String(res.status), (failed.get(String(res.status)) ?? 0) + 1)
      } catch {
        failed.set('network', (failed.get('network') ?? 0) + 1)
      }
      if (!killed && (acked.length >= KILL_AFTER_ACKS || Date.now() - started >= KILL_AFTER_MS)) {
        killed = true
        server.kill('SIGKILL')
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => { await worker(w) }))
  const elapsed = Date.now() - started
  t.ok(killed, `the server was killed mid-run (${acked.length} acknowledged, ${sent} sent in ${elapsed} ms)`)
  const { signal } = await server.exit
  t.equal(signal, 'SIGKILL')
  t.comment(`rate until the kill: ${Math.round(acked.length / (elapsed / 1000))} events/s acknowledged (${CONCURRENCY} concurrent clients)`)
  t.comment(`not acknowledged: ${JSON.stringify(Object.fromEntries(failed))}`)

  const restarted = startServer(env)
  t.teardown(() => { restarted.kill('SIGTERM') })
  const port2 = await waitListening(restarted)
  const ready = await fetch(`http://127.0.0.1:${port2}/readyz`)
  t.equal(ready.status, 200, 'ready after the restart')

  const db = new Database(sqliteFilePath(DATABASE_URL), { readonly: true })
  t.teardown(() => db.close())
  const stored = new Set((db.prepare('SELECT id FROM events').all() as Array<{ id: string }>).map(r => r.id))
  const missing = acked.filter(id => !stored.has(id))
  t.same(missing, [], `all ${acked.length} acknowledged events are in the table (${stored.size} rows)`)
  t.ok(stored.size >= acked.length)
}

t.test('SIGKILL under load loses no acknowledged event', async t => { await killMidRun(t, {}) })

t.test(`SIGKILL under load on a slow disk (every flush +${SLOW_FLUSH_MS} ms) loses no acknowledged event`, async t => {
  const shim = join(tempDir(t), 'slow-flush.so')
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, fileURLToPath(new URL('../../bench/slow-flush.c', import.meta.url)), '-ldl'])
  await killMidRun(t, { LD_PRELOAD: shim, FLUSH_DELAY_MS: String(SLOW_FLUSH_MS) })
})
