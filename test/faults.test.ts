import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { buildApp, deliver, getJson, postEvent } from './helpers/app.js'
import { events } from './helpers/events.js'
import { sqliteFilePath } from '../src/db/sqlite.js'
import { isTransientDatabaseError } from '../src/db/transient.js'

const time = '2026-05-19T02:22:58Z'

t.test('a database locked past the busy timeout answers 503 + Retry-After, then recovers', async t => {
  const { app, config } = await buildApp(t, { SQLITE_BUSY_TIMEOUT_MS: '100', RETRY_AFTER_SECONDS: '7' })
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
})

t.test('which errors count as transient', async t => {
  t.ok(isTransientDatabaseError({ code: 'P1001' }))
  t.ok(isTransientDatabaseError({ name: 'PrismaClientInitializationError' }))
  t.ok(isTransientDatabaseError({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'SocketTimeout' } } } }))
  t.ok(isTransientDatabaseError({ cause: { originalCode: 'SQLITE_READONLY', kind: 'sqlite' } }))
  t.ok(isTransientDatabaseError({ cause: { code: '40001' } }), 'PostgreSQL serialization failure')
  t.ok(isTransientDatabaseError({ cause: { originalCode: '57014' } }), 'PostgreSQL statement timeout')
  t.notOk(isTransientDatabaseError(new Error('bug')))
  t.notOk(isTransientDatabaseError({ code: 'P2002' }), 'a unique violation is not transient')
  t.notOk(isTransientDatabaseError({ cause: { originalCode: 'SQLITE_CONSTRAINT_UNIQUE' } }))
  t.notOk(isTransientDatabaseError(null))
  const loop: Record<string, unknown> = {}
  loop.cause = loop
  t.notOk(isTransientDatabaseError(loop), 'cause cycles end')
})

t.test('an unexpected failure is a 500 that leaks nothing', async t => {
  const { app, logs } = await buildApp(t)
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
