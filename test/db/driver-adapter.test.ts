import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClientKnownRequestError, sqltag as sql } from '@prisma/client/runtime/client'
import { PrismaClient } from '../../src/generated/sqlite/client.js'
import { migrateSqlite, openSqliteClient, sqliteFilePath } from '../../src/db/engines/sqlite.js'
import { migrateDatabase, openDatabase } from '../../src/db/engines/engine.js'
import { sqliteDialect } from '../../src/db/engines/dialect.js'
import {
  adapterTransaction, asPrismaError, driverAdapterOf, statementName, TransactionLimitError, withDriverAdapter, type RawQueryable
} from '../../src/db/engines/driver-adapter.js'
import { isTransientDatabaseError } from '../../src/db/engines/transient.js'
import { engineTest, postgresql, sqlite, type Engine } from '../helpers/engines.js'
import type { Teardown } from '../helpers/app.js'

// The event write path's transactions on the Prisma driver adapter: committed or rolled back as Prisma's own
// interactive transactions are, within the same limits (start wait, time-out), with errors reported as the
// client reports them.

const LIMITS = { maxWaitMs: 1000, timeoutMs: 3000 }

async function open (t: Teardown, engine: Engine) {
  const config = {
    DATABASE_URL: engine.databaseUrl(t),
    SQLITE_BUSY_TIMEOUT_MS: 100,
    SQLITE_SYNCHRONOUS: 'FULL' as const,
    PG_POOL_MAX: 3,
    PG_STATEMENT_TIMEOUT_MS: 2000,
    TRANSACTION_MAX_WAIT_MS: 1000
  }
  await migrateDatabase(config)
  const { prisma, dialect } = await openDatabase(config)
  t.teardown(async () => await prisma.$disconnect())
  return { prisma, dialect, adapter: await driverAdapterOf(prisma) }
}

const tenantIds = async (db: RawQueryable): Promise<string[]> =>
  (await db.$queryRaw<Array<{ id: string }>>(sql`SELECT "id" FROM "tenants" ORDER BY "id"`)).map(r => r.id)

const insertTenant = (id: string) => sql`INSERT INTO "tenants" ("id", "live", "live_v") VALUES (${id}, ${true}, ${'v1'})`

engineTest(t, 'commits what the work wrote; rolls all of it back when the work throws, and throws that', async (t, engine) => {
  const { prisma, dialect, adapter } = await open(t, engine)
  const result = await adapterTransaction(adapter, dialect, LIMITS, async db => {
    t.equal(await db.$executeRaw(insertTenant('t-1')), 1, 'one row inserted')
    return await tenantIds(db)
  })
  t.same(result, ['t-1'], 'the work sees its own writes and its result is returned')
  const bug = new TypeError('a bug')
  await t.rejects(adapterTransaction(adapter, dialect, LIMITS, async db => {
    await db.$executeRaw(insertTenant('t-2'))
    throw bug
  }), bug, 'an error that is not the database\'s is thrown as it is')
  t.same(await tenantIds(prisma), ['t-1'], 'nothing of the failed transaction was kept')
})

engineTest(t, 'values of every kind bind as the client binds them; rows come back keyed by column', async (t, engine) => {
  const { dialect, adapter } = await open(t, engine)
  const at = new Date('2026-05-19T10:00:00.123Z')
  const [row] = await adapterTransaction(adapter, dialect, LIMITS, async db => await db.$queryRaw<Array<Record<string, unknown>>>(
    sql`SELECT ${'text'} AS "s", ${7} AS "i", ${2.5} AS "f", ${12345678901234n} AS "b", ${1 === 1} AS "t", ${at} AS "d"`))
  t.equal(row.s, 'text')
  t.equal(Number(row.i), 7)
  t.equal(Number(row.f), 2.5)
  t.equal(String(row.b), '12345678901234')
  t.ok(row.t === true || row.t === 1 || row.t === 't' || row.t === 'true', `a boolean: ${String(row.t)}`)
  t.match(String(row.d), /^2026-05-19[ T]10:00:00\.123/, 'a timestamp')
})

engineTest(t, 'a failed statement is reported as the client reports a failed raw query (P2010), and not as transient', async (t, engine) => {
  const { dialect, adapter } = await open(t, engine)
  await adapterTransaction(adapter, dialect, LIMITS, async db => await db.$executeRaw(insertTenant('t-dup')))
  const err = await adapterTransaction(adapter, dialect, LIMITS, async db => await db.$executeRaw(insertTenant('t-dup'))).catch((e: unknown) => e)
  t.ok(err instanceof PrismaClientKnownRequestError, 'Prisma\'s own error class')
  const known = err as PrismaClientKnownRequestError
  t.equal(known.code, 'P2010')
  t.match(known.message, /^Raw query failed\. Code: `(SQLITE_CONSTRAINT_PRIMARYKEY|23505)`\. Message: `.+`$/, 'the database\'s code and message')
  t.match(known.meta, { driverAdapterError: { name: 'DriverAdapterError' } })
  t.notOk(isTransientDatabaseError(err), 'a unique violation is not retried')
})

t.test('asPrismaError leaves alone what is not a driver adapter error with a cause', async t => {
  const plain = new Error('plain')
  t.equal(asPrismaError(plain), plain)
  const bare = Object.assign(new Error('no cause'), { name: 'DriverAdapterError' })
  t.equal(asPrismaError(bare), bare)
  t.equal(asPrismaError(undefined), undefined)
  const mapped = asPrismaError(Object.assign(new Error('driver'), { name: 'DriverAdapterError', cause: { kind: 'SocketTimeout' } }))
  t.match(mapped, { code: 'P2010', message: 'Raw query failed. Code: `N/A`. Message: `driver`' }, 'no code: N/A, and the error\'s own message')
  t.ok(isTransientDatabaseError(mapped), 'its kind still says transient')
})

t.test('a transaction that cannot start within its wait fails as transient; if it starts later, it is ended at once', async t => {
  const { prisma, dialect, adapter } = await open(t, sqlite)
  // SQLite's adapter runs one transaction at a time: this one holds it.
  const holder = await adapter.startTransaction()
  const err = await adapterTransaction(adapter, dialect, { maxWaitMs: 30, timeoutMs: 1000 }, async db => await db.$executeRaw(insertTenant('t-late'))).catch((e: unknown) => e)
  t.ok(err instanceof TransactionLimitError)
  t.match(err, { code: 'P2028', message: 'the transaction did not start within 30 ms' })
  t.ok(isTransientDatabaseError(err), 'transient: answered 503, and EventBridge sends it again')
  await holder.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] })
  await holder.rollback()
  await sleep(20)
  // The late transaction was rolled back and let go: the next one starts and commits.
  await adapterTransaction(adapter, dialect, LIMITS, async db => await db.$executeRaw(insertTenant('t-next')))
  t.same(await tenantIds(prisma), ['t-next'], 'the work of the transaction that gave up never ran')
})

t.test('a late transaction whose start then fails is dropped quietly', async t => {
  const config = { url: sqlite.databaseUrl(t), busyTimeoutMs: 100, synchronous: 'FULL' as const }
  await migrateSqlite(config)
  const prisma = await openSqliteClient(config)
  const adapter = await driverAdapterOf(prisma)
  const holder = await adapter.startTransaction()
  await t.rejects(adapterTransaction(adapter, sqliteDialect, { maxWaitMs: 20, timeoutMs: 1000 }, async () => 'never'), TransactionLimitError)
  // The connection closes while the late transaction still waits for its turn: its BEGIN then fails.
  await prisma.$disconnect()
  await holder.rollback()
  // Its failure is caught (tap fails a test on an unhandled rejection).
  await sleep(20)
})

t.test('a start that fails is thrown', async t => {
  const config = { url: sqlite.databaseUrl(t), busyTimeoutMs: 100, synchronous: 'FULL' as const }
  await migrateSqlite(config)
  const prisma = await openSqliteClient(config)
  const adapter = await driverAdapterOf(prisma)
  await prisma.$disconnect()
  await t.rejects(adapterTransaction(adapter, sqliteDialect, LIMITS, async () => 'never'), /not open/)
})

t.test('past its time-out the next statement fails and the transaction rolls back; so does the commit', async t => {
  const { prisma, dialect, adapter } = await open(t, sqlite)
  const limits = { maxWaitMs: 1000, timeoutMs: 30 }
  const statement = await adapterTransaction(adapter, dialect, limits, async db => {
    await db.$executeRaw(insertTenant('t-slow'))
    await sleep(60)
    await db.$executeRaw(insertTenant('t-slower'))
  }).catch((e: unknown) => e)
  t.match(statement, { code: 'P2028', message: 'the transaction ran past its time-out of 30 ms' })
  t.ok(isTransientDatabaseError(statement))
  const commit = await adapterTransaction(adapter, dialect, limits, async db => {
    await db.$executeRaw(insertTenant('t-slow'))
    await sleep(60)
  }).catch((e: unknown) => e)
  t.ok(commit instanceof TransactionLimitError, 'work that ends past the time-out is not committed')
  t.same(await tenantIds(prisma), [], 'neither transaction kept anything')
})

t.test('a rollback that fails (the transaction was ended already) still lets the connection go', async t => {
  const { prisma, dialect, adapter } = await open(t, sqlite)
  const bug = new Error('after the end')
  await t.rejects(adapterTransaction(adapter, dialect, LIMITS, async db => {
    await db.$executeRaw(insertTenant('t-ended'))
    await db.$executeRaw(sql`COMMIT`)
    throw bug
  }), bug)
  t.same(await tenantIds(prisma), ['t-ended'], 'committed by the work itself: there was nothing to roll back')
  await adapterTransaction(adapter, dialect, LIMITS, async db => await db.$executeRaw(insertTenant('t-after')))
  t.same(await tenantIds(prisma), ['t-after', 't-ended'], 'the next transaction starts')
})

t.test('driverAdapterOf connects a client that has not connected yet, and refuses one not made by withDriverAdapter', async t => {
  const url = sqlite.databaseUrl(t)
  await migrateSqlite({ url, busyTimeoutMs: 100, synchronous: 'FULL' })
  const prisma = withDriverAdapter(new PrismaBetterSqlite3({ url: `file:${sqliteFilePath(url)}` }), factory => new PrismaClient({ adapter: factory }))
  t.teardown(async () => await prisma.$disconnect())
  const adapter = await driverAdapterOf(prisma)
  t.equal(adapter.provider, 'sqlite')
  t.equal(await driverAdapterOf(prisma), adapter, 'the same adapter every time')
  const other = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: `file:${sqliteFilePath(url)}` }) })
  await t.rejects(driverAdapterOf(other), /not opened with withDriverAdapter/)
})

engineTest(t, 'PostgreSQL: the write path\'s statements are prepared once per connection; other statements are not named', async (t, engine) => {
  const { dialect, adapter } = await open(t, engine)
  t.equal(statementName({ sql: 'SELECT 1', args: [], argTypes: [] }), undefined, 'a statement not from adapterTransaction')
  const names = await adapterTransaction(adapter, dialect, LIMITS, async db => {
    await db.$executeRaw(insertTenant('t-named'))
    await db.$executeRaw(insertTenant('t-named-2'))
    return (await db.$queryRaw<Array<{ name: string }>>(sql`SELECT "name" FROM pg_prepared_statements WHERE "name" LIKE 'w\_%'`)).map(r => r.name)
  })
  t.equal(names.length, 2, 'the insert, prepared once for its two uses, and this query')
  for (const name of names) t.match(name, /^w_[0-9a-f]{40}$/)
}, [postgresql])
