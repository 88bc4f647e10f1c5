import t from 'tap'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { Agent, request as httpRequest } from 'node:http'
import { figures, startProbes } from '../helpers/probes.js'
import { stressEngines } from '../helpers/engines.js'
import { startServer, waitListening } from '../helpers/process.js'
import { saasus, startSaasus, type SaasusState } from '../helpers/saasus.js'

// `npm run test:stress` (issue 25, row 4): 20 followers read the change feed, each from its own cursor and
// with long polls once caught up, while a reconcile's first load of about 60,000 rows (FOLLOW_TENANTS
// tenants, as many users, and a membership with a role for each) runs against a local SaaSus stand-in, and
// events arrive at 20/s. Throughout, /healthz every 20 ms and the events are timed in a thread of their own
// (helpers/probes.ts): /healthz and intake p99 within 250 ms, no 5xx; every follower sees the same entries,
// in cursor order, up to the head.

const KEY = 'stress-test-key-0123456789'
const HEALTH_MS = 250
const INTAKE_P99_MS = 250
const FOLLOWERS = 20
const TENANTS = Number(process.env.FOLLOW_TENANTS ?? 20_000)
/** The reconcile starts this long after the server: followers and probes are running by then. */
const START_DELAY_MS = 8000

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const id = (prefix: string, i: number): string => `${prefix}-${String(i).padStart(6, '0')}`

const state = (): SaasusState => ({
  tenants: Array.from({ length: TENANTS }, (_, i) => saasus.tenant(id('t', i))),
  // The intake probe's users (load-<k>) too: SaaSus has them, so the reconcile deletes none of them.
  users: [...Array.from({ length: TENANTS }, (_, i) => saasus.user(id('u', i))), ...Array.from({ length: 5000 }, (_, k) => saasus.user(`load-${k}`))],
  memberships: Array.from({ length: TENANTS }, (_, i) => saasus.membership(id('t', i), id('u', i), {}, [{ id: 1, roles: ['admin'] }])),
  roles: [saasus.role('admin')],
  envs: [saasus.env(1)]
})

interface RunRow { started_at: string, ended_at: string | null, outcome: string, error: string | null }

t.setTimeout(1_800_000)
for (const engine of await stressEngines()) {
  t.test(`20 followers during a reconcile's first load [${engine.name}]`, { timeout: 900_000 }, async t => {
    const api = await startSaasus(t, state())
    const server = startServer({
      ...api.env,
      PORT: '0',
      API_KEYS: KEY,
      DATABASE_URL: engine.databaseUrl(t),
      MALLOC_ARENA_MAX: '2',
      LOG_LEVEL: 'info',
      RECONCILE_INTERVAL: '1h',
      RECONCILE_START_DELAY_MS: String(START_DELAY_MS),
      SAASUS_TIMEOUT_MS: '120000'
    }, ['--heap-growing-percent=50'])
    t.teardown(() => { server.kill('SIGTERM') })
    const port = await waitListening(server)
    const startedAt = Date.now()
    const agent = new Agent({ keepAlive: true, maxSockets: 100 })
    t.teardown(() => { agent.destroy() })
    const fivexx: string[] = []
    const get = async (path: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { 'x-api-key': KEY }, timeout: 60_000 }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (res.statusCode! >= 500 && (res.statusCode !== 503 || res.headers['retry-after'] === undefined)) fivexx.push(`${path}: ${res.statusCode}`)
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') })
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    const lastRun = async (): Promise<RunRow | undefined> => (JSON.parse((await get('/reconcile/runs?limit=1')).body) as { items: RunRow[] }).items[0]

    const probes = await startProbes(port, KEY)
    t.teardown(async () => { await probes.stop() })
    const baseline = rssBytes(server.pid)
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(server.pid)) }, 20)
    t.teardown(() => { clearInterval(sampler) })

    // The followers: a page after their cursor; once caught up, a long poll; until told to stop and caught up.
    let finished = false
    let refused = 0
    const follow = async (): Promise<number[]> => {
      const cursors: number[] = []
      let after = 0
      for (;;) {
        const res = await get(`/changes?after=${after}&limit=1000&wait=2`)
        if (res.status === 503) { refused++; await new Promise(resolve => setTimeout(resolve, 200)); continue }
        const page = JSON.parse(res.body) as { entries: Array<{ cursor: number }>, next_after: number }
        for (const entry of page.entries) cursors.push(entry.cursor)
        after = page.next_after
        if (page.entries.length === 0 && finished) return cursors
      }
    }
    const followers = Array.from({ length: FOLLOWERS }, follow)

    // Until the first load is over (it starts START_DELAY_MS after the server).
    let run: RunRow | undefined
    while (Date.now() - startedAt < 600_000) {
      run = await lastRun()
      if (run !== undefined && run.outcome !== 'running') break
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const runStarted = Date.parse(run!.started_at)
    const runFinished = Date.parse(run!.ended_at!)
    const samples = await probes.samples()
    // The probe's events stop reaching the feed, so that the followers catch up with its head and stop.
    await probes.feedless(true)
    await new Promise(resolve => setTimeout(resolve, 500))
    finished = true
    const seen = await Promise.all(followers)
    await probes.stop()
    clearInterval(sampler)

    t.equal(run!.outcome, 'succeeded', `${engine.name}: the first load succeeded (${run!.error ?? ''})`)
    const { worstHealthMs: worstHealth, intakeP99Ms: p99, intakeMs: lat, intakeFailures } = figures(samples, runStarted, runFinished)
    t.comment(`${engine.name}: first load of ${TENANTS * 3} rows in ${runFinished - runStarted} ms; ${FOLLOWERS} followers saw ` +
      `${seen[0].length} entries each (${refused} reads answered 503); slowest /healthz ${Math.round(worstHealth)} ms; intake p99 ` +
      `${Math.round(p99)} ms (${lat.length} events, max ${Math.round(lat.at(-1) ?? 0)}); peak RSS +${Math.round((peak - baseline) / 1048576)} MB ` +
      `over ${Math.round(baseline / 1048576)} MB; load ${loadavg()[0].toFixed(1)}`)
    t.ok(lat.length >= (runFinished - runStarted) / 100, `${engine.name}: ${lat.length} events timed during the load`)
    t.ok(worstHealth <= HEALTH_MS, `${engine.name}: /healthz ${Math.round(worstHealth)} ms`)
    t.ok(p99 <= INTAKE_P99_MS, `${engine.name}: intake p99 ${Math.round(p99)} ms`)
    t.same(intakeFailures, [], `${engine.name}: every event answered 200`)
    t.same(fivexx, [], `${engine.name}: no 5xx`)
    t.ok(seen[0].length >= TENANTS * 3, `${engine.name}: the load's entries reached the followers`)
    t.ok(seen.every(s => s.every((c, i) => i === 0 || c > s[i - 1])), `${engine.name}: every follower saw cursors in order`)
    const first = seen[0].join()
    t.ok(seen.every(s => s.join() === first), `${engine.name}: every follower saw the same entries`)
  })
}
