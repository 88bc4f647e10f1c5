import { tmpdir } from 'node:os'
import t from 'tap'
import { buildApp, deliver, getJson, testConfig } from './helpers/app.js'
import { engineTest, sqlite } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { runScript, startScript } from './helpers/process.js'
import { SAASUS, emptyState, expectedReads, oneOfEach as state, saasus, startSaasus, type SaasusState } from './helpers/saasus.js'
import { reads } from './helpers/reads.js'
import { loadConfig } from '../src/config.js'

// `npm run reconcile` as a real process against the stand-in SaaSus API. Eight processes, each compiling
// the sources with tsx: more than the default two minutes per file on a busy machine.
t.setTimeout(600_000)

t.test('npm run reconcile: the drift report, --json, --dry-run, and one-line failures that write nothing', async t => {
  const api = await startSaasus(t, state())
  const config = testConfig(t, api.env, sqlite)
  const env = { ...api.env, DATABASE_URL: config.DATABASE_URL, API_KEYS: config.API_KEYS[0] }

  const dry = await runScript('reconcile', ['--dry-run'], env)
  t.equal(dry.code, 0, dry.output)
  t.match(dry.output, /^reconciliation [0-9a-f-]{36} succeeded \(dry run: nothing written\) in \d+\.\d s, snapshot version \d{15}:-:reconcile:/)
  t.match(dry.output, /\ntenants: 1 created, 0 updated, 0 deleted, 0 unchanged\n {2}created: t1\n/)

  const json = await runScript('reconcile', ['--json'], env)
  t.equal(json.code, 0, json.output)
  const report = JSON.parse(json.output)
  t.match(report, { outcome: 'succeeded', dry_run: false, error: null, drift: { tenants: { created: 1 }, role_assignments: { created: 1 }, envs: { created: 1 } } })

  const { app } = await buildApp(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }))
  t.same(await reads(app), expectedReads(api.state), 'written to DATABASE_URL, beside a running service')
  t.same((await getJson(app, '/reconcile/runs')).json().items.map((r: any) => [r.trigger, r.dry_run]), [['manual', false], ['manual', true]])

  api.state.tenants = []
  const refused = await runScript('reconcile', [], { ...env, SAASUS_SECRET_KEY: 'wrong-secret-key' })
  t.equal(refused.code, 1)
  t.match(refused.output, /^reconciliation failed: incomplete snapshot, nothing written: GET \/v1\/auth\/tenants: SaaSus refused the credentials \(HTTP 401/)
  t.equal(refused.output.trim().split('\n').length, 1, 'one line')
  t.notMatch(refused.output, 'wrong-secret-key')
  t.notMatch(refused.output, SAASUS.apiKey)
  t.same(await reads(app), expectedReads({ ...api.state, tenants: state().tenants }), 'nothing written')

  const bad = await runScript('reconcile', [], { ...env, SAASUS_API_KEY: '' })
  t.equal(bad.code, 1)
  t.equal(bad.output, 'invalid configuration: SAASUS_API_KEY: missing; set SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY together, or none of them\n')
  const none = await runScript('reconcile', [], { ...env, SAASUS_SAAS_ID: '', SAASUS_API_KEY: '', SAASUS_SECRET_KEY: '' })
  t.equal(none.code, 1)
  t.equal(none.output, 'invalid configuration: SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY are required to reconcile\n')
  // A database that cannot be opened (here a directory): one line naming it, exit 1.
  const unopenable = await runScript('reconcile', [], { ...env, DATABASE_URL: `file:${tmpdir()}` })
  t.equal(unopenable.code, 1)
  t.equal(unopenable.output, `SqliteOpenError: cannot open the SQLite database ${tmpdir()} (DATABASE_URL): unable to open database file\n`)
  const usage = await runScript('reconcile', ['--what'], env)
  t.equal(usage.code, 1)
  t.match(usage.output, /^unknown argument "--what"/)

  api.faults.set('/v1/auth/envs', { status: 500 })
  const failed = await runScript('reconcile', ['--json'], { ...env, SAASUS_RETRIES: '0' })
  t.equal(failed.code, 1)
  t.match(JSON.parse(failed.output.split('\n')[0]), { outcome: 'failed', error: /^incomplete snapshot, nothing written: GET \/v1\/auth\/envs: HTTP 500/ })

  // The mass-deletion guard (every kind counts from its first row here): refused, then applied when allowed.
  api.faults.clear()
  const guarded = { ...env, RECONCILE_MASS_DELETE_MIN_ROWS: '0' }
  const massive = await runScript('reconcile', [], guarded)
  t.equal(massive.code, 1)
  t.match(massive.output, /^reconciliation refused: mass deletion, nothing written: the snapshot would delete .*tenants \(more than RECONCILE_MAX_DELETE_FRACTION=0.25 .*--allow-mass-delete\n$/)
  t.same(await reads(app), expectedReads({ ...api.state, tenants: state().tenants }), 'nothing written')
  const allowed = await runScript('reconcile', ['--allow-mass-delete'], guarded)
  t.equal(allowed.code, 0, allowed.output)
  t.same(await reads(app), expectedReads(api.state), 'applied when allowed')
})


engineTest(t, 'two reconcile processes against one database: exactly one applies, the other reports skipped', async (t, engine) => {
  const api = await startSaasus(t, state())
  const config = testConfig(t, api.env, engine)
  // The held request (below) lasts as long as the other process takes to start: no time-out meanwhile.
  const env = { ...api.env, DATABASE_URL: config.DATABASE_URL, API_KEYS: config.API_KEYS[0], SAASUS_TIMEOUT_MS: '300000' }
  // The service's app migrates the database first: the two processes then only race for the lease.
  const { app } = await buildApp(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }))
  // Whichever process takes the lease is held at its first SaaSus request until the other has ended: the
  // two runs overlap whatever order the processes start in.
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  api.onRequest = async () => { await held }
  const runs = [runScript('reconcile', ['--json'], env), runScript('reconcile', ['--json'], env)]
  const first = await Promise.race(runs)
  release()
  const [a, b] = await Promise.all(runs)
  t.equal(first.code, 1, 'the process that ended first exits 1')
  t.match(first.output, /"outcome":"skipped"/)
  t.match(first.output, /\nreconciliation skipped: another reconciliation holds the lease\n$/)
  const outcomes = [a, b].map(r => JSON.parse(r.output.split('\n')[0]).outcome).sort()
  t.same(outcomes, ['skipped', 'succeeded'], 'exactly one applied')
  const applied = [a, b].find(r => r.code === 0)!
  t.match(JSON.parse(applied.output), { outcome: 'succeeded', drift: { tenants: { created: 1 }, memberships: { created: 1 } } })
  t.same(await reads(app), expectedReads(api.state))
  t.same((await getJson(app, '/reconcile/runs')).json().items.map((r: any) => r.outcome).sort(), ['skipped', 'succeeded'])
  t.equal(api.calls.filter(c => c.path === '/v1/auth/tenants').length, 1, 'only the run holding the lease read the snapshot')
})

/** A SaaSus state of `n` tenants, each with one user in it holding a role: a run of many chunks. */
function large (n: number): SaasusState {
  const s = emptyState()
  for (let i = 0; i < n; i++) {
    const id = String(i).padStart(4, '0')
    s.tenants.push(saasus.tenant(`t${id}`))
    s.users.push(saasus.user(`u${id}`, { sign_in_id: `u${id}` }))
    s.memberships.push(saasus.membership(`t${id}`, `u${id}`, { n: i }, [{ id: 1, roles: ['admin'] }]))
  }
  s.roles.push(saasus.role('admin'))
  s.envs.push(saasus.env(1))
  return s
}

engineTest(t, 'npm run reconcile killed (SIGKILL) between chunks: late events older than its snapshot still apply; the next run marks it abandoned and completes', async (t, engine) => {
  const api = await startSaasus(t, large(400))
  const config = testConfig(t, api.env, engine)
  const env = { ...api.env, DATABASE_URL: config.DATABASE_URL, API_KEYS: config.API_KEYS[0], RECONCILE_CHUNK_SIZE: '2' }
  const { app } = await buildApp(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }))
  const prisma = app.repository.prisma
  const run = startScript('reconcile', ['--json'], env)
  // Killed once it has committed some chunks of tenants, and long before it is done.
  for (let i = 0; i < 1200 && await prisma.tenant.count() < 20; i++) await new Promise(resolve => setTimeout(resolve, 25))
  run.kill('SIGKILL')
  t.same(await run.exit, { code: null, signal: 'SIGKILL' })
  const written = await prisma.tenant.count()
  t.ok(written >= 20 && written < 400, `killed part-way (${written} of 400 tenants written)`)
  const [killed] = await prisma.reconcileRun.findMany()
  t.match(killed, { outcome: 'running', endedAt: null }, 'its row still says running')
  t.equal((await prisma.versionFloor.findUniqueOrThrow({ where: { id: 1 } })).version, '', 'the floor was not raised')

  // The late create_tenant of tenants it never wrote, dated long before its snapshot: applied, and shown.
  const missing = ['t0390', 't0391', 't0392', 't0393', 't0394']
  for (const id of missing) {
    t.equal(await deliver(app, events.createTenant(id, { name: `name-${id}` }, { time: '2026-05-19T10:00:00Z' })), 'applied', `${id}: applied, not stale`)
    t.equal((await getJson(app, `/tenants/${id}`)).statusCode, 200)
  }

  // Its lease was renewed every 5 s while it lived: the next run waits at most 30 s for it to expire.
  const { expiresAt } = await prisma.reconcileLease.findUniqueOrThrow({ where: { id: 1 } })
  t.ok(expiresAt.getTime() - Date.now() <= 30_000, 'the dead run holds the lease for at most 30 s more')
  const early = await runScript('reconcile', ['--json'], env)
  t.match(JSON.parse(early.output.split('\n')[0]), { outcome: 'skipped' }, 'while its lease lasts')
  await new Promise(resolve => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 100)))
  const next = await runScript('reconcile', ['--json'], env)
  t.equal(next.code, 0, next.output)
  t.match(JSON.parse(next.output), { outcome: 'succeeded' })
  const after = await prisma.reconcileRun.findUniqueOrThrow({ where: { id: killed.id } })
  t.equal(after.outcome, 'abandoned')
  t.ok(after.endedAt !== null, 'with an end')
  t.same(await reads(app), expectedReads(api.state), 'the copy equals SaaSus')
})

t.test('npm run reconcile beside the service writing events from another connection (SQLite): no SQLITE_BUSY_SNAPSHOT, it succeeds', async t => {
  const api = await startSaasus(t, large(300))
  const config = testConfig(t, api.env, sqlite)
  const env = { ...api.env, DATABASE_URL: config.DATABASE_URL, API_KEYS: config.API_KEYS[0], RECONCILE_CHUNK_SIZE: '5' }
  const { app } = await buildApp(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }))
  const run = startScript('reconcile', ['--json'], env)
  let done = false
  let written = 0
  void run.exit.then(() => { done = true })
  // Events for tenants of their own, written by this process while the command runs in its own.
  const writing = (async () => {
    while (!done) {
      await deliver(app, events.createTenant(`busy-${written}`, { name: 'x' }, { time: new Date().toISOString() }))
      written++
    }
  })()
  const { code } = await run.exit
  await writing
  t.equal(code, 0, run.output())
  t.match(JSON.parse(run.output()), { outcome: 'succeeded' })
  t.ok(written >= 20, `${written} events written beside it`)
  t.same((await reads(app)).tenants.length, 300 + written, 'the snapshot\'s tenants and every event\'s')
})
