import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Readable } from 'node:stream'
import { engineTest, type Engine } from './helpers/engines.js'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { events } from './helpers/events.js'
import { SAASUS, expectedReads, oneOfEach, saasus, startSaasus, type SaasusState } from './helpers/saasus.js'
import { reads } from './helpers/reads.js'
import { CONSOLE_PASSWORD, mainText, page, signIn } from './helpers/console.js'

// Reconciliation distrusts SaaSus's answers (issue 25): an answer too large, naming an id twice, redirecting
// elsewhere, or echoing the request's credentials in its error ends the run before anything is written, and
// the run's record says why without any credential. Both engines.

const state = (): SaasusState => ({
  ...oneOfEach(),
  tenants: [saasus.tenant('t1', { attributes: { a: 1 } }), saasus.tenant('t2')],
  users: [saasus.user('u1'), saasus.user('u2')]
})

/** A first successful run, so that a later failing one has something it must not touch. */
type TapTest = Parameters<Parameters<typeof engineTest>[2]>[0]

async function reconciled (t: TapTest, engine: Engine, env: Record<string, string> = {}) {
  const api = await startSaasus(t, state())
  const { app } = await buildApp(t, { ...api.env, ...env }, engine)
  const first = await app.reconciler!.run()
  t.equal(first.outcome, 'succeeded', first.error ?? '')
  return { api, app }
}

/** The run failed, wrote nothing (the reads still show SaaSus's earlier state), and its record holds `error`. */
async function failedWithoutWriting (t: TapTest, app: FastifyInstance, api: { state: SaasusState }, expected: RegExp): Promise<string> {
  const before = await reads(app)
  const floor = await app.reconcileStore.floor()
  const result = await app.reconciler!.run()
  t.equal(result.outcome, 'failed')
  t.match(result.error, expected)
  t.match(result.error, /^incomplete snapshot, nothing written: /)
  t.same(await reads(app), before, 'nothing written')
  t.same(await reads(app), expectedReads(api.state))
  t.equal(await app.reconcileStore.floor(), floor, 'the floor was not raised')
  const listed = (await getJson(app, '/reconcile/runs?limit=1')).json().items[0]
  t.equal(listed.id, result.id)
  t.equal(listed.error, result.error, 'the record holds the same error')
  return result.error!
}

engineTest(t, 'row 9: an answer larger than RECONCILE_MAX_ANSWER_BYTES ends the run naming the variable', async (t, engine) => {
  const { api, app } = await reconciled(t, engine, { RECONCILE_MAX_ANSWER_BYTES: '65536' })
  const many = JSON.stringify({ tenants: Array.from({ length: 1000 }, (_, i) => saasus.tenant(`t${i}`)) })
  api.faults.set('/v1/auth/tenants', { body: many })
  await failedWithoutWriting(t, app, api, /GET \/v1\/auth\/tenants: the answer is larger than RECONCILE_MAX_ANSWER_BYTES \(65536 bytes\): it declares \d+ bytes$/)
  // Streamed without a length: stopped at the cap.
  const users = JSON.stringify({ users: Array.from({ length: 3000 }, (_, i) => saasus.user(`u${i}`)) })
  api.faults.set('/v1/auth/users', { body: () => Readable.from([users]) })
  api.faults.delete('/v1/auth/tenants')
  await failedWithoutWriting(t, app, api, /GET \/v1\/auth\/users: the answer is larger than RECONCILE_MAX_ANSWER_BYTES \(65536 bytes\): stopped reading after \d+ bytes$/)
})

engineTest(t, 'row 10: the same id twice in one answer is a malformed answer: nothing written, the endpoint and the id named', async (t, engine) => {
  const { api, app } = await reconciled(t, engine)
  const cases: Array<[string, keyof SaasusState, unknown[], RegExp]> = [
    ['/v1/auth/tenants', 'tenants', [saasus.tenant('t1', { name: 'one' }), saasus.tenant('t1', { name: 'other' })], /GET \/v1\/auth\/tenants: malformed answer: the tenant id "t1" appears twice$/],
    ['/v1/auth/users', 'users', [saasus.user('u1'), saasus.user('u2'), saasus.user('u1')], /GET \/v1\/auth\/users: malformed answer: the user id "u1" appears twice$/],
    ['/v1/auth/tenants/all/users', 'users', [saasus.membership('t1', 'u1'), saasus.membership('t2', 'u1'), saasus.membership('t1', 'u1', { x: 1 })],
      /GET \/v1\/auth\/tenants\/all\/users: malformed answer: the membership of user "u1" in tenant "t1" appears twice$/],
    ['/v1/auth/roles', 'roles', [saasus.role('admin'), saasus.role('admin')], /GET \/v1\/auth\/roles: malformed answer: the role name "admin" appears twice$/],
    ['/v1/auth/envs', 'envs', [saasus.env(1), saasus.env(1, 'again')], /GET \/v1\/auth\/envs: malformed answer: the env id 1 appears twice$/]
  ]
  for (const [path, field, items, expected] of cases) {
    api.faults.clear()
    api.faults.set(path, { body: JSON.stringify({ [field]: items }) })
    await failedWithoutWriting(t, app, api, expected)
  }
  api.faults.clear()
  const long = 'x'.repeat(300)
  api.faults.set('/v1/auth/tenants', { body: JSON.stringify({ tenants: [saasus.tenant(long), saasus.tenant(long)] }) })
  await failedWithoutWriting(t, app, api, new RegExp(`the tenant id "${'x'.repeat(100)}…" appears twice$`))
})

engineTest(t, 'row 11: a redirect to another host is a failed run; that host is never asked and nothing of it applied', async (t, engine) => {
  const { api, app } = await reconciled(t, engine)
  const elsewhere = await startSaasus(t, { ...state(), tenants: [] })
  api.faults.set('/v1/auth/tenants', { status: 302, location: `${elsewhere.url}/v1/auth/tenants`, body: '' })
  await failedWithoutWriting(t, app, api, /GET \/v1\/auth\/tenants: HTTP 302, a redirect to http:\/\/127\.0\.0\.1:\d+, which is not followed/)
  t.same(elsewhere.calls, [])
  t.equal(api.calls.filter(c => c.path === '/v1/auth/tenants').length, 2, 'asked once in this run (not retried)')
})

engineTest(t, 'row 13: SaaSus\'s error text echoing the Authorization header is stored and shown without it', async (t, engine) => {
  const { api, app } = await reconciled(t, engine, { SAASUS_RETRIES: '0' })
  for (const status of [400, 401, 500]) {
    api.faults.set('/v1/auth/users', { status, echoAuthorization: true })
    const error = await failedWithoutWriting(t, app, api, /GET \/v1\/auth\/users: .*HTTP \d{3}: error bad request: Authorization: \[redacted\]/)
    t.notMatch(error, SAASUS.apiKey)
    t.notMatch(error, SAASUS.secretKey)
    t.notMatch(error, /Sig=[0-9a-f]/)
    const row = await app.repository.prisma.reconcileRun.findFirstOrThrow({ orderBy: { startedAt: 'desc' } })
    t.notMatch(row.error, /SAASUSSIGV1 Sig|APIKey=test/, 'the stored row has none of it either')
  }
})

/** A copy of `tenants` tenants, each with a user and a membership, reconciled once. */
async function copyOf (t: TapTest, engine: Engine, tenants: number, env: Record<string, string> = {}) {
  const big: SaasusState = {
    ...oneOfEach(),
    tenants: Array.from({ length: tenants }, (_, i) => saasus.tenant(`t${i}`)),
    users: Array.from({ length: tenants }, (_, i) => saasus.user(`u${i}`)),
    memberships: Array.from({ length: tenants }, (_, i) => saasus.membership(`t${i}`, `u${i}`))
  }
  const api = await startSaasus(t, big)
  const { app } = await buildApp(t, { ...api.env, CONSOLE_PASSWORD, ...env }, engine)
  const first = await app.reconciler!.run()
  t.equal(first.outcome, 'succeeded', first.error ?? '')
  return { api, app }
}

const metric = async (app: FastifyInstance, name: string): Promise<string> =>
  (await app.inject('/metrics')).body.split('\n').filter(l => l.startsWith(name)).join('\n')

engineTest(t, 'row 12: a snapshot deleting more than RECONCILE_MAX_DELETE_FRACTION of a kind writes nothing unless allowed; the record, console and metrics say so', async (t, engine) => {
  const { api, app } = await copyOf(t, engine, 40)
  t.match(await metric(app, 'receiver_reconcile_mass_delete_refused'), /^receiver_reconcile_mass_delete_refused 0$/m)
  // All five endpoints answer 200 with empty lists: every tenant would go.
  const empty = { tenants: [], users: [], memberships: [], roles: [], envs: [] }
  api.state = empty
  const before = await reads(app)
  const floor = await app.reconcileStore.floor()
  const refused = await app.reconciler!.run()
  t.equal(refused.outcome, 'refused')
  t.equal(refused.error, 'mass deletion, nothing written: the snapshot would delete 40 of 40 memberships, 40 of 40 users, 40 of 40 tenants ' +
    '(more than RECONCILE_MAX_DELETE_FRACTION=0.25 of a kind, and at least RECONCILE_MASS_DELETE_MIN_ROWS=10); ' +
    'if SaaSus\'s state is right, run npm run reconcile -- --allow-mass-delete')
  t.same(await reads(app), before, 'nothing written')
  t.equal(await app.reconcileStore.floor(), floor, 'the floor was not raised')
  t.match((await getJson(app, '/reconcile/runs?limit=1')).json().items[0], { id: refused.id, outcome: 'refused', error: refused.error })
  t.match(await metric(app, 'receiver_reconcile_mass_delete_refused'), /^receiver_reconcile_mass_delete_refused 1$/m)
  t.match(await metric(app, 'receiver_reconcile_runs_total'), /^receiver_reconcile_runs_total\{outcome="refused"\} 1$/m)
  const text = mainText((await page(app, '/console/', await signIn(app))).body)
  t.match(text, 'Outcome refused (mass deletion: nothing written)')
  t.match(text, 'would delete 40 of 40 memberships')

  // A dry run is not refused: it shows what would go.
  const dry = await app.reconciler!.run({ dryRun: true })
  t.equal(dry.outcome, 'succeeded')
  t.equal(dry.drift.tenants.deleted, 40)
  t.same(await reads(app), before)

  // Allowed explicitly: applied.
  const allowed = await app.reconciler!.run({ allowMassDelete: true })
  t.equal(allowed.outcome, 'succeeded', allowed.error ?? '')
  t.equal(allowed.drift.tenants.deleted, 40)
  t.same(await reads(app), expectedReads(empty))
  t.match(await metric(app, 'receiver_reconcile_mass_delete_refused'), /^receiver_reconcile_mass_delete_refused 0$/m, 'a success after it clears it')
})

engineTest(t, 'row 12: the guard\'s edges: exactly the fraction passes, one more is refused; below RECONCILE_MASS_DELETE_MIN_ROWS never', async (t, engine) => {
  const { api, app } = await copyOf(t, engine, 40)
  const { tenants, memberships } = api.state
  const keep = (n: number) => {
    api.state.tenants = tenants.slice(0, n)
    api.state.memberships = memberships.filter(m => Number(m.tenant_id.slice(1)) < n)
  }
  keep(29)
  const eleven = await app.reconciler!.run()
  t.equal(eleven.outcome, 'refused')
  t.match(eleven.error, /would delete 11 of 40 memberships, 11 of 40 tenants \(/)
  keep(30)
  const ten = await app.reconciler!.run()
  t.equal(ten.outcome, 'succeeded', '10 of 40 is not more than a quarter')
  t.equal(ten.drift.tenants.deleted, 10)

  // Rows made live by events newer than the snapshot are not the snapshot's to delete: not counted.
  for (let i = 0; i < 40; i++) t.equal(await deliver(app, events.createTenant(`new${i}`, { name: `new${i}` }, { time: new Date().toISOString() })), 'applied')
  const newer = await app.reconciler!.run()
  t.equal(newer.outcome, 'succeeded', newer.error ?? '')
  t.equal((await reads(app)).tenants.length, 70, 'the 40 newer tenants stay')

  // A small copy: 2 tenants, all going, fewer than the minimum: applied.
  const small = await copyOf(t, engine, 2)
  small.api.state.tenants = []
  const gone = await small.app.reconciler!.run()
  t.equal(gone.outcome, 'succeeded', gone.error ?? '')
  t.equal(gone.drift.tenants.deleted, 2)
  // With the minimum at 0, even that is guarded.
  const guarded = await copyOf(t, engine, 2, { RECONCILE_MASS_DELETE_MIN_ROWS: '0' })
  guarded.api.state.users = []
  t.match((await guarded.app.reconciler!.run()).error, /would delete 2 of 2 users \(/)
})

engineTest(t, 'row 12: a copy built by events alone, never reconciled: a snapshot deleting most of it is refused too', async (t, engine) => {
  const api = await startSaasus(t, { ...oneOfEach(), tenants: [saasus.tenant('t1')] })
  const { app } = await buildApp(t, api.env, engine)
  for (let i = 0; i < 12; i++) t.equal(await deliver(app, events.createTenant(`e${i}`, { name: `e${i}` }, { time: '2026-06-01T10:00:00Z' })), 'applied')
  const result = await app.reconciler!.run()
  t.equal(result.outcome, 'refused')
  t.match(result.error, /would delete 12 of 12 tenants \(/)
  t.match(await metric(app, 'receiver_reconcile_mass_delete_refused'), /^receiver_reconcile_mass_delete_refused 1$/m)
  t.equal((await reads(app)).tenants.length, 12, 'nothing written')
})
