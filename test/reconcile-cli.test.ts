import { tmpdir } from 'node:os'
import t from 'tap'
import { buildApp, getJson, testConfig } from './helpers/app.js'
import { engineTest, sqlite } from './helpers/engines.js'
import { runScript } from './helpers/process.js'
import { SAASUS, expectedReads, oneOfEach as state, startSaasus } from './helpers/saasus.js'
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
