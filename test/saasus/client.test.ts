import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { MAX_STRING_BYTES, SaasusApiError, SaasusClient, retryAfterMs } from '../../src/saasus/client.js'
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
  baseUrl: url, credentials: SAASUS, timeoutMs: 1000, retries: 2, maxRetryDelayMs: 50, maxAnswerBytes: 1 << 30, ...options
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
  t.match(err.message, /^GET \/v1\/auth\/tenants: connect ECONNREFUSED 127.0.0.1:\d+ \(after 2 attempts\)$/)
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

/** A lazily made answer of `total` bytes: `{"tenants": [` then filler (`fill(i)` per piece) then `]}`; counts what was made. */
function hugeAnswer (pieces: number, piece: (i: number) => string, head = '{"tenants": [', tail = ']}'): { stream: () => Readable, made: () => number } {
  let made = 0
  return {
    made: () => made,
    stream: () => Readable.from((function * () {
      yield head
      for (let i = 0; i < pieces; i++) {
        const text = piece(i)
        made += text.length
        yield text
      }
      yield tail
    })(), { objectMode: false, highWaterMark: 16 * 1024 })
  }
}

t.test('an answer larger than maxAnswerBytes is refused naming RECONCILE_MAX_ANSWER_BYTES, not retried, and read no further', async t => {
  const api = await startSaasus(t)
  const item = JSON.stringify(saasus.tenant('t1'))
  api.faults.set('/v1/auth/tenants', { body: `{"tenants": [${Array.from({ length: 100 }, () => item).join(',')}]}` })
  const declared = await failure(client(api.url, { maxAnswerBytes: 4096 }).list('/tenants', 'tenants', SaasusTenant))
  t.match(declared.message, /^GET \/v1\/auth\/tenants: the answer is larger than RECONCILE_MAX_ANSWER_BYTES \(4096 bytes\): it declares \d+ bytes$/)
  t.equal(declared.retryable, false)
  t.equal(api.calls.length, 1, 'not retried')

  // 64 MB streamed without a Content-Length: the read stops at the cap, and the server is left unread.
  const huge = hugeAnswer(64 * 1024, i => `${i === 0 ? '' : ','}${JSON.stringify(saasus.tenant(`t${i}`)).padEnd(1000, ' ')}`)
  api.faults.set('/v1/auth/tenants', { body: huge.stream })
  const streamed = await failure(client(api.url, { maxAnswerBytes: 1024 * 1024, timeoutMs: 10_000 }).list('/tenants', 'tenants', SaasusTenant))
  t.match(streamed.message, /^GET \/v1\/auth\/tenants: the answer is larger than RECONCILE_MAX_ANSWER_BYTES \(1048576 bytes\): stopped reading after \d+ bytes$/)
  await new Promise(resolve => setTimeout(resolve, 100))
  t.ok(huge.made() < 16 * 1024 * 1024, `the server made ${huge.made()} of 64 MB before the client stopped reading`)

  // At the cap exactly: accepted.
  const exact = `{"tenants": [${item}]}`
  api.faults.set('/v1/auth/tenants', { body: exact })
  t.same(await client(api.url, { maxAnswerBytes: Buffer.byteLength(exact) }).list('/tenants', 'tenants', SaasusTenant), [saasus.tenant('t1')])
})

t.test('a string longer than MAX_STRING_BYTES is refused as it crosses the limit, even in a field nobody reads', async t => {
  const api = await startSaasus(t)
  const oneMb = 'x'.repeat(1024 * 1024)
  const huge = hugeAnswer(300, () => oneMb, '{"tenants": [], "ignored": "', '"}')
  api.faults.set('/v1/auth/tenants', { body: huge.stream })
  const err = await failure(client(api.url, { timeoutMs: 10_000 }).list('/tenants', 'tenants', SaasusTenant))
  t.equal(err.message, `GET /v1/auth/tenants: malformed answer: a string longer than ${MAX_STRING_BYTES} bytes (stopped reading it)`)
  t.equal(err.retryable, false)
  await new Promise(resolve => setTimeout(resolve, 100))
  t.ok(huge.made() < 32 * 1024 * 1024, `the server made ${huge.made() / 1024 / 1024} of 300 MB before the client stopped reading`)

  // Escaped quotes and backslashes do not end a string early, nor does a long string below the limit fail.
  const tricky = saasus.tenant('t1', { name: 'a "quoted" \\ name \\', attributes: { long: 'y'.repeat(MAX_STRING_BYTES - 10) } })
  api.faults.set('/v1/auth/tenants', { body: JSON.stringify({ tenants: [tricky] }) })
  t.same(await client(api.url, { timeoutMs: 10_000 }).list('/tenants', 'tenants', SaasusTenant), [tricky])
  // Escapes count towards the length (as sent): a string of escapes beyond the limit is refused too.
  api.faults.set('/v1/auth/tenants', { body: JSON.stringify({ tenants: [], ignored: '"'.repeat(MAX_STRING_BYTES / 2 + 1) }) })
  t.match((await failure(client(api.url, { timeoutMs: 10_000 }).list('/tenants', 'tenants', SaasusTenant))).message, /a string longer than/)
})

t.test('a redirect is never followed: a clear failure naming only where it pointed, nothing asked of the other host', async t => {
  const api = await startSaasus(t)
  const elsewhere = await startSaasus(t)
  elsewhere.state.tenants = [saasus.tenant('foreign')]
  for (const status of [301, 302, 303, 307, 308]) {
    api.faults.set('/v1/auth/tenants', { status, location: `${elsewhere.url}/v1/auth/tenants?token=abc`, body: '' })
    const err = await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))
    t.equal(err.message, `GET /v1/auth/tenants: HTTP ${status}, a redirect to ${elsewhere.url}, which is not followed: nothing from another address is applied; check SAASUS_API_URL_BASE`)
    t.equal(err.retryable, false)
  }
  // Same origin is not followed either (the signature covers the URL it was made for).
  api.faults.set('/v1/auth/tenants', { status: 302, location: '/v1/auth/tenants?again=1', body: '' })
  t.match((await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))).message, `a redirect to ${api.url}, which is not followed`)
  api.faults.set('/v1/auth/tenants', { status: 302, body: '' })
  t.match((await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))).message, 'HTTP 302, a redirect without a Location, which')
  api.faults.set('/v1/auth/tenants', { status: 302, location: 'http://[::1', body: '' })
  t.match((await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))).message, 'a redirect to an unreadable Location, which')
  api.faults.set('/v1/auth/tenants', { status: 304, body: '' })
  t.match((await failure(client(api.url).list('/tenants', 'tenants', SaasusTenant))).message, 'HTTP 304, a redirect without a Location')
  t.same(elsewhere.calls, [], 'the other host was never asked')
  t.equal(api.calls.length, 9, 'none was retried')
})

t.test('an error answer echoing the Authorization header: the message keeps no signature, key or secret', async t => {
  const api = await startSaasus(t)
  for (const status of [400, 401, 500]) {
    api.faults.set('/v1/auth/tenants', { status, echoAuthorization: true })
    const err = await failure(client(api.url, { retries: 0 }).list('/tenants', 'tenants', SaasusTenant))
    noSecrets(t, err.message)
    t.notMatch(err.message, /Sig=[0-9a-f]/, 'no signature')
    t.match(err.message, 'Authorization: [redacted]')
  }
  // An error body larger than what is read: the start is enough for its type and message.
  api.faults.set('/v1/auth/tenants', { status: 500, body: JSON.stringify({ type: 'error', message: 'm', pad: 'p'.repeat(200_000) }) })
  t.equal((await failure(client(api.url, { retries: 0 }).list('/tenants', 'tenants', SaasusTenant))).message, 'GET /v1/auth/tenants: HTTP 500 (after 1 attempts)', 'cut off: no longer JSON, so only the status')
})
