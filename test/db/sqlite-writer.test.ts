import t from 'tap'
import { join } from 'node:path'
import { PrismaClientKnownRequestError, sqltag as sql } from '@prisma/client/runtime/client'
import { migrateSqlite, openSqliteClient, SqliteOpenError } from '../../src/db/engines/sqlite.js'
import { driverAdapterOf, TransactionLimitError } from '../../src/db/engines/driver-adapter.js'
import { SqliteWriterAdapter } from '../../src/db/engines/sqlite-writer.js'
import { fromWire, toWire } from '../../src/db/engines/sqlite-writer-messages.js'
import { isTransientDatabaseError } from '../../src/db/engines/transient.js'
import { tempDir } from '../helpers/app.js'

// SQLite's writes run in a writer thread (src/db/engines/sqlite-writer.ts): the client's reads on a read-only
// connection in a reader thread, writes and transactions in the writer thread, errors made again on this
// side as they were.

async function open (t: Parameters<typeof tempDir>[0], synchronous = 'FULL') {
  const options = { url: `file:${join(tempDir(t), 'writer.db')}`, busyTimeoutMs: 100, synchronous: synchronous as 'FULL' }
  await migrateSqlite({ ...options, synchronous: 'FULL' })
  const prisma = await openSqliteClient(options)
  t.teardown(async () => { await prisma.$disconnect() })
  const adapter = await driverAdapterOf(prisma)
  if (!(adapter instanceof SqliteWriterAdapter)) throw new Error('not the writer adapter')
  return { prisma, adapter }
}

const q = (text: string) => ({ sql: text, args: [], argTypes: [] })

t.test('writes go to the writer thread; reads outside a transaction see only what it committed', async t => {
  const { prisma, adapter } = await open(t)
  t.same((await adapter.queryRaw(q('PRAGMA synchronous'))).rows, [[2]], 'the writer\'s connection commits at FULL')
  await adapter.executeScript('CREATE TABLE "scratch" ("a" INTEGER); INSERT INTO "scratch" VALUES (1)')
  const tx = await adapter.startTransaction()
  t.equal(await tx.executeRaw(q('INSERT INTO "scratch" VALUES (2)')), 1)
  t.same((await tx.queryRaw(q('SELECT COUNT(*) AS n FROM "scratch"'))).rows, [[2]], 'the transaction sees its own row')
  t.same((await adapter.queryRaw(q('SELECT COUNT(*) AS n FROM "scratch"'))).rows, [[1]], 'a read outside it does not')
  await tx.executeRaw(q('COMMIT'))
  await tx.commit()
  t.same(await prisma.$queryRaw`SELECT COUNT(*) AS "n" FROM "scratch"`, [{ n: 2n }], 'committed: read in the reader thread')
})

t.test('reads run in a thread of their own, on a read-only connection: the event loop only waits for them', async t => {
  const { adapter } = await open(t)
  t.equal(adapter.reader.thread.role, 'reader')
  t.equal(adapter.writer.thread.role, 'writer')
  t.not(adapter.reader.thread, adapter.writer.thread)
  t.same((await adapter.reader.call<{ rows: unknown[] }>({ op: 'query', query: q('PRAGMA query_only') })).rows, [[1]])
  await t.rejects(adapter.reader.call({ op: 'execute', query: q('CREATE TABLE "sneaky" ("a" INTEGER)') }), { name: 'DriverAdapterError' }, 'a write there fails')
  // A long read (a recursive count to 3 million) leaves the event loop turning.
  let turns = 0
  const ticking = setInterval(() => { turns++ }, 1)
  await adapter.queryRaw(q('WITH RECURSIVE "n"("i") AS (SELECT 1 UNION ALL SELECT "i" + 1 FROM "n" WHERE "i" < 3000000) SELECT COUNT(*) FROM "n"'))
  clearInterval(ticking)
  t.ok(turns > 0, `the event loop turned ${turns} times during the read`)
})

t.test('an open connection that cannot set up its writer fails, naming the file; its read connection is closed', async t => {
  const dir = tempDir(t)
  const options = { url: `file:${join(dir, 'writer.db')}`, busyTimeoutMs: 100, synchronous: 'FULL' as const }
  await migrateSqlite(options)
  const err = await openSqliteClient({ ...options, synchronous: 'FULL; bogus' as 'FULL' }).catch((e: unknown) => e)
  t.type(err, SqliteOpenError)
  t.match((err as Error).message, `cannot open the SQLite database ${join(dir, 'writer.db')} (DATABASE_URL)`)
})

t.test('a closed writer: what waited for its turn fails as on a closed connection; ending a transaction only lets it go', async t => {
  const { prisma, adapter } = await open(t)
  const holder = await adapter.startTransaction()
  const waiting = t.rejects(adapter.startTransaction(), { name: 'TypeError', message: 'The database connection is not open' })
  await prisma.$disconnect()
  await waiting
  await holder.rollback()
  await holder.commit()
  await t.rejects(adapter.writer.call({ op: 'execute', query: q('SELECT 1') }), { name: 'TypeError', message: 'The database connection is not open' })
  await adapter.writer.close()
})

t.test('a writer thread that stops fails what waits and what comes after; the next database opened starts a new one', async t => {
  const { adapter } = await open(t)
  const holder = await adapter.startTransaction()
  const waiting = adapter.startTransaction()
  await adapter.writer.thread.worker.terminate()
  await t.rejects(waiting, /^the SQLite writer thread stopped: the SQLite writer thread exited \(code 1\)$/)
  await t.rejects(holder.rollback(), /the SQLite writer thread stopped/)
  const next = await open(t)
  t.not(next.adapter.writer.thread, adapter.writer.thread, 'a new thread')
  t.same((await next.adapter.queryRaw(q('PRAGMA synchronous'))).rows, [[2]])
})

t.test('errors cross the thread as they were thrown: class, code, cause, and what the transient check reads', async t => {
  const limit = fromWire(toWire(new TransactionLimitError('the transaction did not start within 5 ms')))
  t.ok(limit instanceof TransactionLimitError)
  t.ok(isTransientDatabaseError(limit))

  const driver = Object.assign(new Error('UNIQUE constraint failed: tenants.id'), {
    name: 'DriverAdapterError', cause: { originalCode: 'SQLITE_CONSTRAINT_PRIMARYKEY', originalMessage: 'UNIQUE constraint failed: tenants.id', kind: 'UniqueConstraintViolation' }
  })
  const known = new PrismaClientKnownRequestError('Raw query failed.', { code: 'P2010', clientVersion: '7.10.0', meta: { driverAdapterError: driver } })
  const revived = fromWire(toWire(known)) as PrismaClientKnownRequestError
  t.ok(revived instanceof PrismaClientKnownRequestError)
  t.match(revived, { code: 'P2010', clientVersion: '7.10.0', message: 'Raw query failed.' })
  t.match(revived.meta, { driverAdapterError: { name: 'DriverAdapterError', message: 'UNIQUE constraint failed: tenants.id', cause: { originalCode: 'SQLITE_CONSTRAINT_PRIMARYKEY' } } })
  t.ok((revived.meta as { driverAdapterError: unknown }).driverAdapterError instanceof Error)
  t.notOk(isTransientDatabaseError(revived))

  const busy = fromWire(toWire(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })))
  t.ok(isTransientDatabaseError(busy), 'a code of its own is kept')
  t.ok(fromWire(toWire(new TypeError('a bug'))) instanceof TypeError, 'JavaScript\'s own classes stay themselves')
  const wrapped = fromWire(toWire(new Error('outer', { cause: new RangeError('inner') }))) as Error
  t.ok(wrapped.cause instanceof RangeError, 'a cause given to the constructor too')
  t.match(wrapped.stack, /outer/, 'the stack where it was thrown')

  const at = new Date('2026-05-19T10:00:00Z')
  t.same(fromWire(toWire({ list: [1, 'a', null, at], nested: { at } })), { list: [1, 'a', null, at], nested: { at } }, 'other values as they are')
  let deep: unknown = 'bottom'
  for (let i = 0; i < 12; i++) deep = { deeper: deep }
  t.ok(toWire(deep) !== undefined, 'a deep value is cut off, not followed forever')
})

t.test('a statement the database refuses inside a batch: the error the client would give, with the database\'s code', async t => {
  const { adapter } = await open(t)
  const err = await adapter.writer.call({ op: 'execute', query: q('INSERT INTO "no_such_table" VALUES (1)') }).catch((e: unknown) => e)
  t.match(err, { name: 'DriverAdapterError', cause: { kind: 'TableDoesNotExist' } })
  await t.rejects(adapter.writer.call({ op: 'commit', tx: 999 }), /no open transaction 999 on the SQLite writer/)
  t.same(await (await open(t)).prisma.$queryRaw(sql`SELECT 1 AS "one"`), [{ one: 1n }])
})
