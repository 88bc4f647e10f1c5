import t from 'tap'
import { API_KEY, buildApp, postEvent } from './helpers/app.js'
import { sample } from './helpers/events.js'
import { FailureLog } from '../src/plugins/auth-failures.js'

// Issue 18, finding 3: unauthenticated traffic must not become disk. Failed keys are counted in metrics
// always and logged once per client address per AUTH_FAILURE_WINDOW_MS, 429s included.

const lines = (logs: string): Array<Record<string, any>> => logs.split('\n').filter(l => l !== '').map(l => JSON.parse(l))

t.test('a flood of wrong keys writes one log line per address and window, with the count', async t => {
  const { app, logs } = await buildApp(t, { AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW_MS: '1000' })
  const before = lines(logs()).length
  const statuses: number[] = []
  for (let i = 0; i < 30; i++) statuses.push((await postEvent(app, sample('create_tenant'), { 'x-api-key': 'wrong-key-0123456789' })).statusCode)
  t.same(statuses.filter(s => s === 401).length, 5)
  t.same(statuses.filter(s => s === 429).length, 25)
  const flood = lines(logs()).slice(before)
  t.equal(flood.length, 1, `one line for 30 refusals: ${JSON.stringify(flood)}`)
  t.match(flood[0], { level: 40, ip: '127.0.0.1', reason: 'API key invalid', failures: 1, limited: false, msg: /^rejected: authentication/ })
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, 'receiver_requests_rejected_total{reason="auth"} 5')
  t.match(metrics, 'receiver_requests_rejected_total{reason="rate_limited"} 25')

  // The next window's first failure writes the next line, counting what the previous one did not show.
  await new Promise(resolve => setTimeout(resolve, 1100))
  const mark = lines(logs()).length
  await app.inject({ method: 'POST', url: '/events', payload: sample('create_tenant') })
  const next = lines(logs()).slice(mark)
  t.equal(next.length, 1)
  t.match(next[0], { reason: 'API key missing', failures: 30 })
})

t.test('accepted requests keep their incoming and completed lines; a wrong metrics token is throttled too', async t => {
  const { app, logs } = await buildApp(t, { METRICS_TOKEN: 'metrics-token-0123456789' })
  const before = lines(logs()).length
  t.equal((await postEvent(app, sample('create_tenant'))).statusCode, 200)
  const ok = lines(logs()).slice(before)
  t.same(ok.map(l => l.msg), ['incoming request', 'event recorded', 'request completed'])
  t.match(ok[0], { req: { method: 'POST', url: '/events' } })
  t.match(ok[2], { res: { statusCode: 200 } })
  t.notOk(logs().includes(API_KEY))

  const mark = lines(logs()).length
  for (let i = 0; i < 10; i++) t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
  const refused = lines(logs()).slice(mark)
  t.equal(refused.length, 1)
  t.match(refused[0], { reason: 'metrics token', failures: 1 })
})

t.test('the failure log remembers at most maxTracked addresses, forgets old ones, and says when it stops', async t => {
  const written: Array<Record<string, unknown>> = []
  const log = { warn: (fields: Record<string, unknown>, msg: string) => { written.push({ ...fields, msg }) } }
  const from = (ip: string) => ({ ip, log }) as unknown as Parameters<FailureLog['note']>[0]
  const failures = new FailureLog(1000, 2)
  failures.note(from('a'), 'x', false, 0)
  failures.note(from('b'), 'x', false, 10)
  failures.note(from('c'), 'x', false, 20)
  failures.note(from('d'), 'x', false, 30)
  t.same(written.map(w => w.ip ?? w.addresses), ['a', 'b', 2], 'c and d are only counted, with one line saying so')
  failures.note(from('a'), 'x', false, 40)
  t.equal(written.length, 3, 'a is within its window')
  failures.note(from('e'), 'x', true, 1500)
  t.match(written[3], { ip: 'e', failures: 1, limited: true }, 'old addresses were forgotten to make room')
  failures.note(from('f'), 'x', false, 1600)
  failures.note(from('g'), 'x', false, 1700)
  t.match(written[4], { ip: 'f' })
  t.match(written[5], { addresses: 2 }, 'the next window says it again')
})
