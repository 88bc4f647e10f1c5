import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Readable } from 'node:stream'
import { engineTest, type Engine } from './helpers/engines.js'
import { buildApp, getJson } from './helpers/app.js'
import { SAASUS, expectedReads, oneOfEach, saasus, startSaasus, type SaasusState } from './helpers/saasus.js'
import { reads } from './helpers/reads.js'

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
