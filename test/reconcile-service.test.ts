import t from 'tap'
import { buildApp, getJson, testConfig } from './helpers/app.js'
import { engineTest, sqlite } from './helpers/engines.js'
import { SAASUS, expectedReads, oneOfEach as state, saasus, startSaasus } from './helpers/saasus.js'
import { reads } from './helpers/reads.js'
import { loadConfig } from '../src/config.js'
import { parseReconcileArgs } from '../src/scripts/reconcile-args.js'

// Reconciliation in the service: its scheduler, the metrics, the configuration, and the SaaSus secrets
// kept out of every output. The command is tested in reconcile-cli.test.ts.

const until = async (check: () => Promise<boolean>, what: string): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('configuration: credentials all or none, durations, defaults', async t => {
  const config = loadConfig({})
  t.match(config, {
    SAASUS_SAAS_ID: '', SAASUS_API_URL_BASE: 'https://api.saasus.io', SAASUS_TIMEOUT_MS: 30000, SAASUS_RETRIES: 3,
    RECONCILE_INTERVAL: 0, RECONCILE_MARGIN: 60_000, RECONCILE_START_DELAY_MS: 10000, RECONCILE_CHUNK_SIZE: 1000
  })
  const full = { SAASUS_SAAS_ID: 'x', SAASUS_API_KEY: 'y', SAASUS_SECRET_KEY: 'z' }
  t.equal(loadConfig({ ...full, RECONCILE_INTERVAL: '6h' }).RECONCILE_INTERVAL, 6 * 3_600_000)
  t.equal(loadConfig({ ...full, RECONCILE_INTERVAL: 'off', RECONCILE_MARGIN: '2m' }).RECONCILE_MARGIN, 120_000)
  t.equal(loadConfig({ RECONCILE_MARGIN: '0' }).RECONCILE_MARGIN, 0)
  t.equal(loadConfig({ RECONCILE_INTERVAL: '1d', ...full }).RECONCILE_INTERVAL, 86_400_000)
  t.equal(loadConfig({ RECONCILE_INTERVAL: '30s', ...full }).RECONCILE_INTERVAL, 30_000)
  t.throws(() => loadConfig({ SAASUS_SAAS_ID: 'x' }), { message: /SAASUS_API_KEY, SAASUS_SECRET_KEY: missing; set SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY together/ })
  t.throws(() => loadConfig({ RECONCILE_INTERVAL: '6h' }), { message: /RECONCILE_INTERVAL: needs SAASUS_SAAS_ID/ })
  t.throws(() => loadConfig({ RECONCILE_INTERVAL: '6 hours' }), { message: /RECONCILE_INTERVAL/ })
  t.throws(() => loadConfig({ SAASUS_API_URL_BASE: 'api.saasus.io' }), { message: /SAASUS_API_URL_BASE/ })
  const err = t.throws(() => loadConfig({ SAASUS_SECRET_KEY: 'do-not-show-me' })) as Error
  t.notMatch(err.message, 'do-not-show-me', 'a configuration error never shows the secret')
  t.same(parseReconcileArgs([]), { dryRun: false, json: false, allowMassDelete: false })
  t.same(parseReconcileArgs(['--json', '--dry-run']), { dryRun: true, json: true, allowMassDelete: false })
  t.same(parseReconcileArgs(['--allow-mass-delete']), { dryRun: false, json: false, allowMassDelete: true })
  t.equal(loadConfig({}).RECONCILE_MAX_DELETE_FRACTION, 0.25)
  t.equal(loadConfig({ RECONCILE_MAX_DELETE_FRACTION: '0.5' }).RECONCILE_MAX_DELETE_FRACTION, 0.5)
  t.throws(() => loadConfig({ RECONCILE_MAX_DELETE_FRACTION: '1.5' }), { message: /RECONCILE_MAX_DELETE_FRACTION/ })
  t.throws(() => loadConfig({ RECONCILE_MAX_ANSWER_BYTES: '100' }), { message: /RECONCILE_MAX_ANSWER_BYTES/ })
  t.throws(() => parseReconcileArgs(['--force']), { message: /unknown argument "--force"\nusage: npm run reconcile/ })
})

engineTest(t, 'the service reconciles a never-reconciled database soon after start, then every RECONCILE_INTERVAL; metrics count runs and drift', async (t, engine) => {
  const api = await startSaasus(t, state())
  const config = testConfig(t, { ...api.env, RECONCILE_START_DELAY_MS: '0' }, engine)
  const first = await buildApp(t, {}, config)
  const runs = async (app: typeof first.app) => (await getJson(app, '/reconcile/runs')).json().items as any[]
  // The row says succeeded a moment before the run logs and counts itself (one synchronous step): wait for both.
  await until(async () => (await runs(first.app)).some(r => r.outcome === 'succeeded') && /"msg":"reconciliation run succeeded"/.test(first.logs()), 'the first run')
  t.same((await runs(first.app)).map(r => [r.trigger, r.outcome]), [['start', 'succeeded']])
  t.same(await reads(first.app), expectedReads(api.state))
  const metrics = (await first.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /receiver_reconcile_runs_total\{outcome="succeeded"\} 1/)
  t.match(metrics, /receiver_reconcile_drift_total\{entity="tenants",change="created"\} 1/)
  t.match(metrics, /receiver_reconcile_last_success_timestamp_seconds \d{10}/)
  t.match(first.logs(), /"msg":"reconciliation run succeeded"/)
  await first.app.close()

  // Reconciled already: no run at start; with an interval, runs keep coming.
  const second = await buildApp(t, {}, { ...config, RECONCILE_INTERVAL: 1000 })
  await until(async () => (await runs(second.app)).some(r => r.trigger === 'interval' && r.outcome === 'succeeded'), 'an interval run')
  t.same((await runs(second.app)).map(r => r.trigger).slice(-2), ['interval', 'start'])
  t.notMatch(second.logs(), /"trigger":"start"/, 'no second start run')
})

t.test('a failed first run is recorded and counted; a round that cannot reach the database is logged', async t => {
  const api = await startSaasus(t, state())
  api.faults.set('/v1/auth/tenants', { status: 401, times: 1 })
  const { app } = await buildApp(t, { ...api.env, RECONCILE_START_DELAY_MS: '0' })
  await until(async () => (await getJson(app, '/reconcile/runs')).json().items[0]?.outcome === 'failed', 'the first run to fail')
  t.match((await getJson(app, '/reconcile/runs')).json().items, [{ trigger: 'start', error: /refused the credentials/ }])
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /receiver_reconcile_runs_total\{outcome="failed"\} 1/)

  const broken = await buildApp(t, { ...api.env, RECONCILE_START_DELAY_MS: '300' })
  await broken.app.repository.prisma.$executeRawUnsafe('DROP TABLE "reconcile_runs"')
  await until(async () => broken.logs().includes('reconciliation could not run'), 'the warning')
  t.match(broken.logs(), /"level":40.*"msg":"reconciliation could not run"/)
})

engineTest(t, 'closing the service stops a run in progress, which ends failed and is not scheduled again', async (t, engine) => {
  const api = await startSaasus(t, state())
  api.faults.set('/v1/auth/tenants', { delayMs: 500 })
  const config = testConfig(t, { ...api.env, RECONCILE_START_DELAY_MS: '0', RECONCILE_INTERVAL: '1s' }, engine)
  const { app } = await buildApp(t, {}, config)
  await until(async () => (await getJson(app, '/reconcile/runs')).json().items.length > 0, 'the run to start')
  await app.close()
  const after = await buildApp(t, {}, { ...config, RECONCILE_START_DELAY_MS: 86_400_000, RECONCILE_INTERVAL: 0 })
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.match((await getJson(after.app, '/reconcile/runs')).json().items, [{ trigger: 'start', outcome: 'failed', error: /stopped: the service is shutting down/ }],
    'one run, stopped; the interval scheduled none after it')
}, [sqlite])

t.test('the SaaSus secret key and API key reach no log, row, error, metric or page', async t => {
  const api = await startSaasus(t, state())
  const { app, logs } = await buildApp(t, { ...api.env, LOG_LEVEL: 'trace' })
  await app.reconciler!.run()
  api.faults.set('/v1/auth/tenants', { status: 401 })
  await app.reconciler!.run()
  app.log.info({ config: app.config }, 'a careless line that logs the configuration')
  app.log.info({ SAASUS_SECRET_KEY: SAASUS.secretKey, SAASUS_API_KEY: SAASUS.apiKey, credentials: SAASUS }, 'and one that logs the keys themselves')
  const outputs = [
    logs(),
    (await getJson(app, '/reconcile/runs')).body,
    (await app.inject({ method: 'GET', url: '/metrics' })).body,
    (await app.inject({ method: 'GET', url: '/docs/json' })).body,
    JSON.stringify(await app.repository.prisma.reconcileRun.findMany())
  ]
  t.match(logs(), /a careless line/)
  for (const output of outputs) {
    t.notMatch(output, SAASUS.secretKey)
    t.notMatch(output, SAASUS.apiKey)
  }
  t.match((await app.inject({ method: 'GET', url: '/docs/json' })).json().paths, { '/reconcile/runs': { get: {} } }, 'the route is documented')
})

engineTest(t, 'rebuild replays the events only, so it lowers the floor again', async (t, engine) => {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, api.env, engine)
  await app.reconciler!.run()
  t.not(await app.reconcileStore.floor(), '')
  await app.repository.rebuild()
  t.equal(await app.reconcileStore.floor(), '')
  t.same(await reads(app), { tenants: [], users: [] })
})
