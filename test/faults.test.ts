import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, deliver, getJson, postEvent } from './helpers/app.js'
import { engineTest, pgClient, postgresql } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { sqliteFilePath } from '../src/db/engines/sqlite.js'
import { postgresqlTarget } from '../src/postgresql-url.js'
import { isTransientDatabaseError } from '../src/db/engines/transient.js'
import { retryPauseMs } from '../src/db/repository.js'

const time = '2026-05-19T02:22:58Z'

t.test('a database locked past the busy timeout answers 503 + Retry-After, then recovers', async t => {
  const { app, config, logs } = await buildApp(t, { SQLITE_BUSY_TIMEOUT_MS: '100', RETRY_AFTER_SECONDS: '7' })
  const before = events.createTenant('t-before', { name: 'acknowledged' }, { time })
  t.equal(await deliver(app, before), 'applied')

  // Another process holds the write lock.
  const other = new Database(sqliteFilePath(config.DATABASE_URL))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const during = events.createTenant('t-during', { name: 'retried' }, { time })
  const res = await postEvent(app, during)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable' })
  other.exec('ROLLBACK')

  t.equal((await getJson(app, `/events/${during.id}`)).statusCode, 404, 'nothing of the refused event was kept')
  t.equal(await deliver(app, during), 'applied', 'the retry lands')
  t.equal((await getJson(app, '/tenants/t-before')).json().name, 'acknowledged', 'acknowledged events are still there')
  t.equal(logs().split('\n').filter(l => l.includes('retrying the transaction')).length, 3, 'DB_RETRY_ATTEMPTS retries before the 503')
})

t.test('SQLite: a lock released soon is absorbed by a retry; no retry starts past the time budget', async t => {
  const { app, config, logs } = await buildApp(t, { SQLITE_BUSY_TIMEOUT_MS: '100' })
  t.equal(await deliver(app, events.createTenant('t-0', { name: 'x' }, { time })), 'applied')
  const other = new Database(sqliteFilePath(config.DATABASE_URL))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  setTimeout(() => other.exec('ROLLBACK'), 150)
  t.equal(await deliver(app, events.createTenant('t-1', { name: 'y' }, { time })), 'applied')
  t.match(logs(), 'retrying the transaction')

  const tight = await buildApp(t, { SQLITE_BUSY_TIMEOUT_MS: '100', TRANSACTION_TIMEOUT_MS: '150' })
  const lock = new Database(sqliteFilePath(tight.config.DATABASE_URL))
  t.teardown(() => lock.close())
  lock.exec('BEGIN EXCLUSIVE')
  t.equal((await postEvent(tight.app, events.createTenant('t-2', { name: 'z' }, { time }))).statusCode, 503)
  lock.exec('ROLLBACK')
  t.notMatch(tight.logs(), 'retrying the transaction', 'a retry would not fit in TRANSACTION_TIMEOUT_MS')
})

t.test('retry pauses are small, growing and jittered', async t => {
  for (let n = 0; n < 3; n++) {
    const pauses = Array.from({ length: 50 }, () => retryPauseMs(n))
    t.ok(pauses.every(p => p >= 12 * 2 ** n && p <= 38 * 2 ** n), `retry ${n + 1}: ${Math.min(...pauses)}-${Math.max(...pauses)} ms`)
  }
})

t.test('a failure that is not transient is not retried', async t => {
  const { app, logs } = await buildApp(t)
  const bogus = { kind: 'changes', changes: [{ entity: 'nope' }] } as unknown as Parameters<typeof app.repository.record>[1]
  const event = { id: 'e-bug', eventType: 'x', time: new Date(), logId: null, traceId: null, uri: null, method: null, httpStatus: null, redacted: {} } as unknown as Parameters<typeof app.repository.record>[0]
  await t.rejects(app.repository.record(event, bogus), TypeError)
  t.notMatch(logs(), 'retrying the transaction')
  t.equal((await getJson(app, '/events/e-bug')).statusCode, 404, 'rolled back')
})

// PostgreSQL: real failures from the server, through the pg driver adapter.

/** The app's own backends, found by the application_name the test engine sets to the schema's name. */
const appName = (databaseUrl: string) => postgresqlTarget(databaseUrl).schema

async function waitUntilBlocked (client: import('pg').Client, databaseUrl: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = \'Lock\'', [appName(databaseUrl)])
    if (rows.length > 0) return rows[0].pid
    await sleep(10)
  }
  throw new Error('the app never waited for the lock')
}

engineTest(t, 'a statement time-out answers 503 + Retry-After after the retries, then recovers', async (t, engine) => {
  const { app, config, logs } = await buildApp(t, { PG_STATEMENT_TIMEOUT_MS: '100', DB_RETRY_ATTEMPTS: '2', RETRY_AFTER_SECONDS: '9' }, engine)
  const other = await pgClient(t, config.DATABASE_URL)
  await other.query('BEGIN')
  await other.query('LOCK TABLE "events" IN ACCESS EXCLUSIVE MODE')
  const event = events.createTenant('t-slow', { name: 'slow' }, { time })
  const res = await postEvent(app, event)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '9')
  const retries = logs().split('\n').filter(l => l.includes('retrying the transaction'))
  t.equal(retries.length, 2)
  t.match(retries[0], '57014', 'the cause is the statement time-out')
  await other.query('ROLLBACK')
  t.equal(await deliver(app, event), 'applied', 'the retry lands')

  // A lock held a little longer than one statement time-out is absorbed by a retry.
  await other.query('BEGIN')
  await other.query('LOCK TABLE "events" IN ACCESS EXCLUSIVE MODE')
  setTimeout(() => { other.query('ROLLBACK').catch(() => {}) }, 150)
  t.equal(await deliver(app, events.createTenant('t-later', { name: 'later' }, { time })), 'applied')
}, [postgresql])

engineTest(t, 'a terminated connection is transient: 503 without retries, a new connection with them', async (t, engine) => {
  for (const retries of ['0', '3']) {
    const { app, config, logs } = await buildApp(t, { DB_RETRY_ATTEMPTS: retries }, engine)
    t.equal(await deliver(app, events.createTenant('t-idle', { name: 'before' }, { time })), 'applied')
    const other = await pgClient(t, config.DATABASE_URL)

    // An idle pool connection killed by the server (fail-over, idle time-out) is replaced.
    await other.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName(config.DATABASE_URL)])
    for (let i = 0; i < 200 && !logs().includes('idle database connection failed'); i++) await sleep(10)
    t.match(logs(), 'idle database connection failed', 'the pool noticed')
    t.equal(await deliver(app, events.createTenant('t-after-idle', { name: 'after' }, { time })), 'applied')

    // Killed while its transaction waits for a lock.
    await other.query('BEGIN')
    await other.query('LOCK TABLE "events" IN ACCESS EXCLUSIVE MODE')
    const pending = postEvent(app, events.createTenant(`t-killed-${retries}`, { name: 'killed' }, { time }))
    const pid = await waitUntilBlocked(other, config.DATABASE_URL)
    await other.query('SELECT pg_terminate_backend($1)', [pid])
    await sleep(20)
    await other.query('ROLLBACK')
    const res = await pending
    if (retries === '0') {
      t.equal(res.statusCode, 503, 'no retry: 503, and EventBridge sends it again')
    } else {
      t.equal(res.statusCode, 200, 'retried on a new connection')
      t.match(logs(), 'retrying the transaction')
    }
    t.equal((await getJson(app, '/tenants/t-idle')).statusCode, 200, 'the pool recovers')
  }
}, [postgresql])

engineTest(t, 'an exhausted pool answers 503 after TRANSACTION_MAX_WAIT_MS', async (t, engine) => {
  const { app, config, logs } = await buildApp(t, { PG_POOL_MAX: '1', TRANSACTION_MAX_WAIT_MS: '100', PG_STATEMENT_TIMEOUT_MS: '2000', DB_RETRY_ATTEMPTS: '0' }, engine)
  t.equal(await deliver(app, events.createTenant('t-warm', { name: 'opens the connection' }, { time })), 'applied')
  const other = await pgClient(t, config.DATABASE_URL)
  await other.query('BEGIN')
  await other.query('LOCK TABLE "events" IN ACCESS EXCLUSIVE MODE')
  // Writes share one transaction at a time (group commit), so a blocked write batch holds one connection...
  const holder = postEvent(app, events.createTenant('t-holder', { name: 'holds the only connection' }, { time }))
  await waitUntilBlocked(other, config.DATABASE_URL)
  // ...and a read finds none left.
  const read = await getJson(app, '/tenants/t-warm')
  t.equal(read.statusCode, 503, 'a read waits for a connection, then gives up')
  t.match(logs(), 'timeout exceeded when trying to connect', "pg's pool wait ran out")
  await other.query('ROLLBACK')
  t.equal((await holder).statusCode, 200)
  t.equal((await getJson(app, '/tenants/t-warm')).statusCode, 200, 'and recovers')
}, [postgresql])

engineTest(t, 'a deadlock is retried', async (t, engine) => {
  const { app, config, logs } = await buildApp(t, {}, engine)
  t.equal(await deliver(app, events.createTenant('t-dead', { name: 'v1' }, { time: '2026-05-19T00:00:00Z' })), 'applied')
  const other = await pgClient(t, config.DATABASE_URL)
  await other.query('BEGIN')
  await other.query('SELECT 1 FROM "tenants" WHERE id = \'t-dead\' FOR UPDATE')
  const update = events.updateTenant('t-dead', { name: 'v2' }, { time })
  // The app inserts the inbox row, then waits for the tenant row held here...
  const pending = postEvent(app, update)
  await waitUntilBlocked(other, config.DATABASE_URL)
  // ...while this transaction waits for the app's uncommitted inbox row: a cycle PostgreSQL breaks by aborting
  // the transaction whose deadlock_timeout (1 s) runs out first: the app's, which waited first.
  const otherAborted = await other.query(`INSERT INTO "events" (id, event_type, time, received_at, outcome, raw) VALUES ($1, 'x', now(), now(), 'ignored', '{}')
    ON CONFLICT (id) DO NOTHING`, [update.id]).then(() => false, (err: { code?: string }) => err.code === '40P01')
  await other.query('ROLLBACK')
  const res = await pending
  t.equal(res.statusCode, 200)
  if (otherAborted) t.comment('the test\'s transaction was the one aborted this time (a loaded machine)')
  else t.match(logs(), /retrying the transaction[\s\S]*40P01|40P01[\s\S]*retrying the transaction/, 'the app was aborted and retried')
  t.equal((await getJson(app, '/tenants/t-dead')).json().name, 'v2')
}, [postgresql])

t.test('which errors count as transient', async t => {
  t.ok(isTransientDatabaseError({ code: 'P1001' }))
  t.ok(isTransientDatabaseError({ name: 'PrismaClientInitializationError' }))
  t.ok(isTransientDatabaseError({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'SocketTimeout' } } } }))
  t.ok(isTransientDatabaseError({ cause: { originalCode: 'SQLITE_READONLY', kind: 'sqlite' } }))
  t.ok(isTransientDatabaseError({ cause: { code: '40001' } }), 'PostgreSQL serialization failure')
  t.ok(isTransientDatabaseError({ cause: { originalCode: '57014' } }), 'PostgreSQL statement timeout')
  t.ok(isTransientDatabaseError(new Error('Connection terminated unexpectedly')), 'pg: connection lost')
  t.notOk(isTransientDatabaseError({ code: 'X', message: 'Connection terminated' }), 'a coded error is judged by its code')
  t.notOk(isTransientDatabaseError(new Error('bug')))
  t.notOk(isTransientDatabaseError({ code: 'P2002' }), 'a unique violation is not transient')
  t.notOk(isTransientDatabaseError({ cause: { originalCode: 'SQLITE_CONSTRAINT_UNIQUE' } }))
  t.notOk(isTransientDatabaseError(null))
  const loop: Record<string, unknown> = {}
  loop.cause = loop
  t.notOk(isTransientDatabaseError(loop), 'cause cycles end')
})

engineTest(t, 'an unexpected failure is a 500 that leaks nothing', async (t, engine) => {
  const { app, logs } = await buildApp(t, {}, engine)
  app.repository.record = async () => { throw new Error('boom: internal detail') }
  const res = await postEvent(app, events.createTenant('t1', { name: 'x' }, { time }))
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'unexpected error' })
  t.match(logs(), 'boom: internal detail', 'the cause is logged for the operator')
})

// Running as root, chmod does not stop writes; the immutable attribute does (ext4, xfs, btrfs...).
function chattr (flag: '+i' | '-i', ...paths: string[]): boolean {
  return spawnSync('chattr', [flag, ...paths], { stdio: 'ignore' }).status === 0
}

t.test('a database file that cannot be written answers 503 + Retry-After, then recovers', async t => {
  const { app, config } = await buildApp(t, { RETRY_AFTER_SECONDS: '6' })
  const file = sqliteFilePath(config.DATABASE_URL)
  const before = [events.createTenant('t-1', { name: 'one' }, { time }), events.createUser('u-1', { email: 'a@example.com' }, { time })]
  for (const e of before) t.equal(await deliver(app, e), 'applied')

  const files = [file, `${file}-wal`].filter(f => existsSync(f))
  t.teardown(() => { chattr('-i', ...files) })
  if (!chattr('+i', ...files)) {
    t.pass('read-only database', { skip: 'chattr +i is not available here (not root, or no immutable attribute on this filesystem): read-only fault NOT tested' })
    return
  }
  const during = events.createTenant('t-2', { name: 'two' }, { time })
  for (let i = 0; i < 3; i++) {
    const res = await postEvent(app, during)
    t.equal(res.statusCode, 503, `attempt ${i + 1}`)
    t.equal(res.headers['retry-after'], '6')
    t.match(res.json(), { statusCode: 503, error: 'Service Unavailable' })
  }
  t.equal((await getJson(app, '/tenants/t-1')).json().name, 'one', 'reads still work')

  t.ok(chattr('-i', ...files))
  t.equal(await deliver(app, during), 'applied', 'the retry lands once the file is writable again')
  for (const e of before) t.equal((await getJson(app, `/events/${e.id}`)).statusCode, 200, 'acknowledged before the fault, still there')
  t.equal((await getJson(app, '/users/u-1')).json().email, 'a@example.com')
})
