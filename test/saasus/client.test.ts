import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { SaasusApiError, SaasusClient, retryAfterMs } from '../../src/saasus/client.js'
import { authorization, signature, signatureMinute, signedUrlPart } from '../../src/saasus/signature.js'
import { SaasusTenant } from '../../src/schemas/saasus-api.js'
import { freePort } from '../helpers/process.js'
import { SAASUS, saasus, startSaasus } from '../helpers/saasus.js'

// The test vectors of /work/shared/saasus-api.md, computed independently of this code.
const VECTORS = [
  { minute: '202612021530', method: 'GET', urlPart: 'api.saasus.io/v1/auth/tenants', body: '', sig: '4ab1efa69d732093f99508d652ac96f7ce88aa8baae831a4e73b30f67b4e2e06' },
  { minute: '202612021530', method: 'GET', urlPart: '127.0.0.1:4010/v1/auth/tenants/all/users', body: '', sig: '61aee0822561743db03cf9ab82d2f86bf45f5ea2f47d9e35f56185a244b760a8' },
  { minute: '202612021531', method: 'POST', urlPart: 'api.saasus.io/v1/auth/tenants', body: '{"name":"x"}', sig: 'f1d2efa646fe424dc684ac8f24c2457230818d5048c5094f6752a707967e6cd7' }
]

t.test('signatures match the published test vectors', async t => {
  for (const v of VECTORS) {
    t.equal(signature('example-secret-key', { ...v, apiKey: 'example-api-key' }), v.sig, `${v.method} ${v.urlPart}`)
  }
  t.equal(signature('example-secret-key', { ...VECTORS[0], method: 'get', apiKey: 'example-api-key' }), VECTORS[0].sig, 'the method is upper-cased')
  t.equal(signatureMinute(new Date('2026-12-02T15:30:59.999Z')), '202612021530')
  t.equal(signedUrlPart(new URL('http://127.0.0.1:4010/v1/auth/tenants/all/users')), '127.0.0.1:4010/v1/auth/tenants/all/users')
  t.equal(signedUrlPart(new URL('https://api.saasus.io/v1/auth/tenants?x=1')), 'api.saasus.io/v1/auth/tenants?x=1', 'the query is signed too')
  t.equal(authorization({ saasId: 'saas-1', apiKey: 'example-api-key', secretKey: 'example-secret-key' }, 'GET',
    new URL('https://api.saasus.io/v1/auth/tenants'), '', new Date('2026-12-02T15:30:12Z')),
  `SAASUSSIGV1 Sig=${VECTORS[0].sig}, SaaSID=saas-1, APIKey=example-api-key`)
})

t.test('Retry-After as seconds or an HTTP date', async t => {
  t.equal(retryAfterMs('3'), 3000)
  t.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000)
  t.equal(retryAfterMs(new Date(1_000).toUTCString(), 4_000), 0, 'a date in the past: at once')
  t.equal(retryAfterMs(null), undefined)
  t.equal(retryAfterMs(' '), undefined)
  t.equal(retryAfterMs('soon'), undefined)
})

const client = (url: string, options: Partial<ConstructorParameters<typeof SaasusClient>[0]> = {}) => new SaasusClient({
  baseUrl: url, credentials: SAASUS, timeoutMs: 1000, retries: 2, maxRetryDelayMs: 50, ...options
})

const failure = async (promise: Promise<unknown>): Promise<SaasusApiError> => {
  try {
    await promise
  } catch (err) {
    if (err instanceof SaasusApiError) return err
    throw err
  }
  throw new Error('expected a SaasusApiError')
}

const noSecrets = (t: { notMatch: (found: string, wanted: string, message: string) => unknown }, message: string) => {
  t.notMatch(message, SAASUS.secretKey, 'the secret key is never in an error')
  t.notMatch(message, SAASUS.apiKey, 'nor the API key')
}

t.test('a signed GET is answered and validated; unknown fields are kept', async t => {
  const api = await startSaasus(t)
  api.state.tenants = [{ ...saasus.tenant('t1'), brand_new_field: 1 }]
  const tenants = await client(`${api.url}/`).list('/tenants', 'tenants', SaasusTenant)
  t.same(tenants, [{ ...saasus.tenant('t1'), brand_new_field: 1 }])
  t.same(api.calls, [{ path: '/v1/auth/tenants', status: 200 }])
})

t.test('refused credentials: a clear error naming the variables, not the secrets, and no retry', async t => {
  const api = await startSaasus(t)
  for (const credentials of [{ ...SAASUS, secretKey: 'wrong-secret' }, { ...SAASUS, apiKey: 'another-key' }]) {
    const err = await failure(client(api.url, { credentials }).list('/tenants', 'tenants', SaasusTenant))
    t.match(err.message, /GET \/v1\/auth\/tenants: SaaSus refused the credentials \(HTTP 401: invalid_signature signature mismatch\); check SAASUS_SAAS_ID \(test-saas-id-0001\), SAASUS_API_KEY and SAASUS_SECRET_KEY/)
    t.equal(err.retryable, false)
    noSecrets(t, err.message)
    t.notMatch(err.message, 'wrong-secret')
  }
  api.faults.set('/v1/auth/tenants', { status: 403, body: 'not json' })
  const err = await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))
  t.match(err.message, /refused the credentials \(HTTP 403\)/)
  t.equal(api.calls.length, 3, 'each refusal was asked once')
})

t.test('429 and 5xx are retried with a pause honouring Retry-After, a bounded number of times', async t => {
  const api = await startSaasus(t)
  api.faults.set('/v1/auth/tenants', { status: 429, retryAfter: '0', times: 1 })
  api.faults.set('/v1/auth/roles', { status: 503, times: 2 })
  const c = client(api.url)
  t.same(await c.list('/tenants', 'tenants', SaasusTenant), [])
  t.same(api.calls.map(c => c.status), [429, 200])

  api.faults.set('/v1/auth/roles', { status: 503 })
  const started = Date.now()
  const err = await failure(c.list('/roles', 'tenants', SaasusTenant))
  t.equal(err.message, 'GET /v1/auth/roles: HTTP 503: error HTTP 503 (after 3 attempts)')
  t.ok(Date.now() - started < 2000, 'pauses are capped by maxRetryDelayMs')
  t.equal(api.calls.filter(c => c.path === '/v1/auth/roles').length, 3)
})

t.test('a time-out per request, retried, then a clear error', async t => {
  const api = await startSaasus(t)
  api.faults.set('/v1/auth/tenants', { delayMs: 500 })
  const err = await failure(client(api.url, { timeoutMs: 100, retries: 1 }).list('/tenants', 'tenants', SaasusTenant))
  t.equal(err.message, 'GET /v1/auth/tenants: no complete answer within 100 ms (after 2 attempts)')
})

t.test('an unreachable API is retried, then a clear error', async t => {
  const port = await freePort()
  const err = await failure(client(`http://127.0.0.1:${port}`, { retries: 1 }).list('/tenants', 'tenants', SaasusTenant))
  t.match(err.message, /^GET \/v1\/auth\/tenants: fetch failed \(after 2 attempts\)$/)
})

t.test('malformed answers are errors, not retried', async t => {
  const api = await startSaasus(t)
  const c = client(api.url)
  api.faults.set('/v1/auth/tenants', { body: '{"tenants": [' })
  t.equal((await failure(c.list('/tenants', 'tenants', SaasusTenant))).message, 'GET /v1/auth/tenants: the answer is not JSON')
  api.faults.set('/v1/auth/tenants', { body: JSON.stringify({ tenants: [{ id: 't1' }] }) })
  t.match((await failure(c.list('/tenants', 'tenants', SaasusTenant))).message, /^GET \/v1\/auth\/tenants: malformed answer at \/tenants\/0/)
  api.faults.set('/v1/auth/tenants', { body: JSON.stringify({ items: [] }) })
  t.match((await failure(c.list('/tenants', 'tenants', SaasusTenant))).message, /malformed answer at \/tenants: /)
  api.faults.set('/v1/auth/tenants', { status: 404 })
  const notFound = await failure(c.list('/tenants', 'tenants', SaasusTenant))
  t.equal(notFound.message, 'GET /v1/auth/tenants: HTTP 404: error HTTP 404')
  t.equal(notFound.retryable, false)
  t.equal(api.calls.length, 4, 'none was retried')
})

t.test('an error body without type or message still gives the status', async t => {
  const api = await startSaasus(t)
  api.faults.set('/v1/auth/tenants', { status: 502, body: '{}' })
  t.equal((await failure(client(api.url, { retries: 0 }).list('/tenants', 'tenants', SaasusTenant))).message, 'GET /v1/auth/tenants: HTTP 502 (after 1 attempts)')
})

t.test('a large answer is parsed as it streams in, giving the event loop turns, and equals the state', async t => {
  const api = await startSaasus(t)
  api.state.tenants = Array.from({ length: 3000 }, (_, i) => saasus.tenant(`t${i}`, { attributes: { n: i, tags: ['a', 'b'] } }))
  let turns = 0
  const ticker = setInterval(() => { turns++ }, 1)
  const tenants = await client(api.url, { timeoutMs: 30_000 }).list('/tenants', 'tenants', SaasusTenant)
  clearInterval(ticker)
  t.same(tenants, api.state.tenants)
  t.ok(turns > 0, 'timers ran while the answer was parsed')
})

t.test('the array must be there; bytes after the document are left unread', async t => {
  const api = await startSaasus(t)
  const c = client(api.url)
  api.faults.set('/v1/auth/tenants', { body: '[1, 2]' })
  t.equal((await failure(c.list('/tenants', 'tenants', SaasusTenant))).message, 'GET /v1/auth/tenants: malformed answer at /tenants: expected an array')
  api.faults.set('/v1/auth/tenants', { body: '{"tenants": {"a": 1}}' })
  t.match((await failure(c.list('/tenants', 'tenants', SaasusTenant))).message, /^GET \/v1\/auth\/tenants: malformed answer at \/tenants\/0: /, 'an object is no array')
  api.faults.set('/v1/auth/tenants', { body: `{"tenants": [${JSON.stringify(saasus.tenant('t1'))}]}\n` })
  t.same(await c.list('/tenants', 'tenants', SaasusTenant), [saasus.tenant('t1')])
})

/** A server answering every request with `respond` (raw: a body cut off, a stall). */
async function rawServer (t: { teardown: (fn: () => unknown) => void }, respond: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => { respond(res) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('an answer cut off or stalled mid-body is a network failure: retried, then a clear error', async t => {
  const cut = await rawServer(t, res => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"tenants": [')
    setTimeout(() => res.destroy(), 20)
  })
  const err = await failure(client(cut, { retries: 1 }).list('/tenants', 'tenants', SaasusTenant))
  t.match(err.message, /^GET \/v1\/auth\/tenants: .+ \(after 2 attempts\)$/)
  t.equal(err.retryable, true)

  const stalled = await rawServer(t, res => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"tenants": [')
  })
  t.equal((await failure(client(stalled, { retries: 0, timeoutMs: 200 }).list('/tenants', 'tenants', SaasusTenant))).message,
    'GET /v1/auth/tenants: no complete answer within 200 ms (after 1 attempts)')

  const cutError = await rawServer(t, res => {
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"type": "')
    setTimeout(() => res.destroy(), 20)
  })
  t.match((await failure(client(cutError, { retries: 0 }).list('/tenants', 'tenants', SaasusTenant))).message,
    /^GET \/v1\/auth\/tenants: .+ \(after 1 attempts\)$/, 'an error answer cut off too')
})
