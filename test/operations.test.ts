import t from 'tap'
import Database from 'better-sqlite3'
import { API_KEY, buildApp, getJson, postEvent } from './helpers/app.js'
import { events, sample } from './helpers/events.js'
import { sqliteFilePath } from '../src/db/engines/sqlite.js'
import { loadConfig } from '../src/config.js'

const time = '2026-05-19T02:22:58Z'
const METRICS_TOKEN = 'metrics-token-0123456789abcdef'

t.test('/healthz and /readyz answer without the API key and leak nothing', async t => {
  const { app } = await buildApp(t)
  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('/readyz is 503 when the database fails or a migration is missing', async t => {
  const { app, config, logs } = await buildApp(t, { RETRY_AFTER_SECONDS: '9' })
  const db = new Database(sqliteFilePath(config.DATABASE_URL))
  t.teardown(() => db.close())
  const name = (db.prepare('SELECT migration_name AS n FROM _prisma_migrations').get() as { n: string }).n
  db.prepare('UPDATE _prisma_migrations SET rolled_back_at = finished_at').run()
  let res = await app.inject('/readyz')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '9')
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'not ready' })
  t.match(logs(), name, 'the log names the pending migration')
  db.prepare('UPDATE _prisma_migrations SET rolled_back_at = NULL').run()
  t.equal((await app.inject('/readyz')).statusCode, 200)

  app.repository.ping = async () => { throw new Error('SQLITE_CANTOPEN: secret path /x/y') }
  res = await app.inject('/readyz')
  t.equal(res.statusCode, 503)
  t.notMatch(res.body, 'secret path', 'the cause stays in the log')
  t.match(logs(), 'secret path')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'the process is still alive')
})

t.test('/metrics: Prometheus text with events, rejections, latency and transaction time', async t => {
  const { app } = await buildApp(t)
  await postEvent(app, sample('create_tenant'))
  await postEvent(app, sample('create_tenant'))
  await postEvent(app, { ...sample('create_saas_user'), time: 'nope' })
  await postEvent(app, 'null')
  await postEvent(app, { detail: { event_type: 'Not A Label!' } })
  await postEvent(app, sample('create_tenant'), { 'x-api-key': 'wrong-key-0123456789' })
  await postEvent(app, 'x'.repeat(3 * 1024 * 1024))
  await postEvent(app, 'hello', { 'content-type': 'text/plain' })

  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  t.match(text, 'receiver_events_received_total{event_type="create_tenant",outcome="applied"} 1')
  t.match(text, 'receiver_events_received_total{event_type="create_tenant",outcome="duplicate"} 1')
  t.match(text, 'receiver_events_received_total{event_type="create_saas_user",outcome="rejected"} 1')
  t.match(text, 'receiver_events_received_total{event_type="other",outcome="rejected"} 2')
  t.match(text, 'receiver_requests_rejected_total{reason="auth"} 1')
  t.match(text, 'receiver_requests_rejected_total{reason="validation"} 3')
  t.match(text, 'receiver_requests_rejected_total{reason="size"} 1')
  t.match(text, 'receiver_requests_rejected_total{reason="content_type"} 1')
  t.match(text, 'receiver_http_request_duration_seconds_count{method="POST",route="/events",status_code="200"} 2')
  t.match(text, 'receiver_db_transaction_duration_seconds_count{result="committed"} 2')
  t.match(text, 'receiver_db_batch_events_count 2')
  t.match(text, 'receiver_quarantine_events 3', 'the three invalid events are in quarantine')
  t.match(text, 'process_cpu_seconds_total')
  t.notMatch(text, API_KEY)
})

t.test('a failing transaction is timed as "error"', async t => {
  const { app, config } = await buildApp(t, { SQLITE_BUSY_TIMEOUT_MS: '50' })
  const other = new Database(sqliteFilePath(config.DATABASE_URL))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  t.equal((await postEvent(app, events.createTenant('t1', { name: 'x' }, { time }))).statusCode, 503)
  other.exec('ROLLBACK')
  const text = (await app.inject('/metrics')).body
  t.match(text, 'receiver_db_transaction_duration_seconds_count{result="error"} 1')
  t.match(text, 'receiver_requests_rejected_total{reason="unavailable"} 1')
})

t.test('each app has its own registry', async t => {
  const a = await buildApp(t)
  const b = await buildApp(t)
  await postEvent(a.app, sample('create_tenant'))
  t.match((await a.app.inject('/metrics')).body, 'outcome="applied"} 1')
  t.notMatch((await b.app.inject('/metrics')).body, 'receiver_events_received_total{')
})

t.test('METRICS_TOKEN protects /metrics with a bearer token', async t => {
  const { app, logs } = await buildApp(t, { METRICS_TOKEN })
  for (const authorization of [undefined, '', 'Bearer', `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
    const res = await app.inject({ url: '/metrics', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, `authorization ${JSON.stringify(authorization)}`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized' })
  }
  const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(ok.statusCode, 200)
  t.notOk(logs().includes(METRICS_TOKEN), 'the token never reaches the logs')
  t.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN/)
})

t.test('/docs: the OpenAPI description, with the envelope as POST /events body', async t => {
  const { app } = await buildApp(t)
  for (const url of ['/docs', '/docs/json']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
    const doc = res.json()
    t.equal(doc.openapi, '3.0.3')
    const post = doc.paths['/events'].post
    const body = post.requestBody.content['application/json'].schema
    // One event, or a batch of them; the envelope is a shared component.
    const ref = body.anyOf[0].$ref as string
    t.equal(body.anyOf[1].type, 'array')
    t.equal(body.anyOf[1].items.$ref, ref)
    t.same(doc.components.schemas[ref.split('/').pop()!].required, ['id', 'time', 'detail'])
    t.ok(post.responses['200'])
    t.ok(doc.paths['/tenants/{id}'])
    t.notOk(doc.paths['/healthz'], 'probes are not part of the API description')
    t.equal(doc.components.securitySchemes.apiKey.name, 'x-api-key')
  }
  // Documenting the body does not make Fastify validate it: errors still come from decodeEvent.
  const res = await postEvent(app, { ...sample('create_tenant'), time: 'yesterday' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().field, '/time')
})

t.test('under pressure: 503 + Retry-After, except /healthz and /metrics', async t => {
  const { app, logs } = await buildApp(t, { PRESSURE_MAX_HEAP_USED_BYTES: '1', PRESSURE_SAMPLE_INTERVAL_MS: '10', RETRY_AFTER_SECONDS: '4' })
  await new Promise(resolve => setTimeout(resolve, 100))
  const res = await postEvent(app, sample('create_tenant'))
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '4')
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'server busy, retry later' })
  t.equal((await app.inject('/readyz')).statusCode, 503)
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/metrics')).statusCode, 200)
  t.match(logs(), 'under pressure')
  t.equal((await getJson(app, `/events/${sample('create_tenant').id}`)).statusCode, 503, 'nothing was recorded meanwhile')
})

t.test('repeated auth failures from one address get 429; successful requests are never limited', async t => {
  const { app } = await buildApp(t, { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_MS: '60000' })
  const bad = async (remoteAddress: string) => await app.inject({
    method: 'POST', url: '/events', remoteAddress, headers: { 'content-type': 'application/json', 'x-api-key': 'guess-guess-guess-guess' }, payload: '{}'
  })
  for (let i = 0; i < 3; i++) t.equal((await bad('10.0.0.1')).statusCode, 401, `failure ${i + 1}`)
  const limited = await bad('10.0.0.1')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.same(limited.json(), { statusCode: 429, error: 'Too Many Requests', message: 'too many failed authentication attempts, retry later' })
  t.equal((await bad('10.0.0.2')).statusCode, 401, 'another address is counted on its own')

  // The right key from the limited address still works, as many times as it is sent.
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({
      method: 'POST', url: '/events', remoteAddress: '10.0.0.1', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, payload: sample('create_tenant')
    })
    t.equal(res.statusCode, 200)
  }
  t.match((await app.inject('/metrics')).body, 'receiver_requests_rejected_total{reason="rate_limited"} 1')
})

t.test('a database slower than REQUEST_DEADLINE_MS answers 503 before EventBridge gives up', async t => {
  // Another transaction on the app's own connection stays open; the event's transaction queues behind it
  // (for up to TRANSACTION_MAX_WAIT_MS = 10 s), and the deadline is 100 ms. (A lock held by another
  // *process* would hold SQLite's writer thread for SQLITE_BUSY_TIMEOUT_MS instead, see docs/operations.md.)
  const { app, logs } = await buildApp(t, { REQUEST_DEADLINE_MS: '100', TRANSACTION_MAX_WAIT_MS: '10000', TRANSACTION_TIMEOUT_MS: '10000', RETRY_AFTER_SECONDS: '3' })
  const before = events.createTenant('t-before', { name: 'acknowledged' }, { time })
  t.equal((await postEvent(app, before)).statusCode, 200)
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  let holding: () => void = () => {}
  const held = new Promise<void>(resolve => { holding = resolve })
  const blocker = app.repository.prisma.$transaction(async tx => {
    await tx.$executeRaw`SELECT 1`
    holding()
    await gate
  }, { timeout: 10000 })
  await held
  const slow = events.createTenant('t-slow', { name: 'slow' }, { time })
  const started = performance.now()
  const res = await postEvent(app, slow)
  const elapsed = performance.now() - started
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '3')
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'database unavailable, retry later' })
  t.ok(elapsed < 2000, `answered after ${Math.round(elapsed)} ms, not after the wait`)
  release()
  await blocker
  // The transaction was not cancelled: once the way is free it commits, and the retry is a duplicate.
  for (let i = 0; i < 100 && !logs().includes('committed after its 503'); i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.match(logs(), 'committed after its 503')
  t.equal((await postEvent(app, slow)).json().results[0].outcome, 'duplicate')
  t.equal((await getJson(app, '/tenants/t-before')).json().name, 'acknowledged')
})

t.test('a late transaction that fails after the deadline is not reported as committed', async t => {
  const { app, logs } = await buildApp(t, { REQUEST_DEADLINE_MS: '20' })
  let fail: (err: Error) => void = () => {}
  app.repository.record = async () => await new Promise((_resolve, reject) => { fail = reject })
  const res = await postEvent(app, sample('create_tenant'))
  t.equal(res.statusCode, 503)
  fail(new Error('late failure'))
  await new Promise(resolve => setImmediate(resolve))
  t.notMatch(logs(), 'committed after its 503')
})

t.test('operations settings: defaults, and each bad value named', async t => {
  t.match(loadConfig({}), {
    METRICS_TOKEN: '', REQUEST_DEADLINE_MS: 4500, SHUTDOWN_TIMEOUT_MS: 10000, AUTH_FAILURE_LIMIT: 20,
    AUTH_FAILURE_WINDOW_MS: 60000, PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 1000, PRESSURE_MAX_HEAP_USED_BYTES: 0, PRESSURE_SAMPLE_INTERVAL_MS: 1000
  })
  const err = t.throws(() => loadConfig({
    REQUEST_DEADLINE_MS: '0', SHUTDOWN_TIMEOUT_MS: 'soon', AUTH_FAILURE_LIMIT: '0', AUTH_FAILURE_WINDOW_MS: '10', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '-1', PRESSURE_SAMPLE_INTERVAL_MS: '1'
  })) as Error
  for (const name of ['REQUEST_DEADLINE_MS', 'SHUTDOWN_TIMEOUT_MS', 'AUTH_FAILURE_LIMIT', 'AUTH_FAILURE_WINDOW_MS', 'PRESSURE_MAX_EVENT_LOOP_DELAY_MS', 'PRESSURE_SAMPLE_INTERVAL_MS']) {
    t.match(err.message, name)
  }
})

t.test('event-loop lag counts as pressure too', async t => {
  const { app } = await buildApp(t, { PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '1', PRESSURE_SAMPLE_INTERVAL_MS: '10' })
  // Block the event loop for a while; the sampling timers, overdue, run before this 1 ms one.
  const until = Date.now() + 200
  while (Date.now() < until) { /* busy */ }
  await new Promise(resolve => setTimeout(resolve, 1))
  t.equal((await postEvent(app, sample('create_tenant'))).statusCode, 503)
  t.equal((await app.inject('/healthz')).statusCode, 200)
})
