import t from 'tap'
import Database from 'better-sqlite3'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import type { SqlDriverAdapterFactory } from '@prisma/client/runtime/client'
import { cacheStatements, withStatementCache } from '../../src/db/engines/statement-cache.js'

// better-sqlite3 binds a statement's parameters for good; the cache must hand out statements that take
// new arguments on every use, and prepare each SQL text once while it stays in the cache.

/** Records every SQL text `db.prepare` is called with (whatever `prepare` is at the time). */
function countPrepares (db: Database.Database): string[] {
  const prepared: string[] = []
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => { prepared.push(sql); return prepare(sql) }) as typeof db.prepare
  return prepared
}

function countingDb (t: { teardown: (fn: () => void) => void }): { db: Database.Database, prepared: string[] } {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  return { db, prepared: countPrepares(db) }
}

t.test('a cached statement is prepared once and takes new arguments on every use', async t => {
  const { db, prepared } = countingDb(t)
  cacheStatements(db, 2)
  db.prepare('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)').run()
  const insert = 'INSERT INTO kv (k, v) VALUES (?, ?)'
  for (let i = 0; i < 3; i++) (db.prepare(insert) as any).bind([`k${i}`, i]).run()
  const select = 'SELECT k, v FROM kv WHERE v >= ? ORDER BY k'
  const read = (min: number) => {
    const statement = (db.prepare(select) as any).bind([min])
    t.equal(statement.reader, true)
    t.same(statement.columns().map((c: { name: string }) => c.name), ['k', 'v'])
    return statement.raw().all()
  }
  t.same(read(1), [['k1', 1], ['k2', 2]])
  t.same(read(2), [['k2', 2]], 'the second use sees its own argument, not the first one')
  const first = (db.prepare(select) as any).columns()
  t.equal((db.prepare(select) as any).columns(), first, 'the columns are read once per prepared statement')
  t.same(prepared.filter(sql => sql === insert).length, 1, 'the insert was prepared once for three uses')
  t.same(prepared.filter(sql => sql === select).length, 1)
})

t.test('the least recently used statement leaves a full cache', async t => {
  const { db, prepared } = countingDb(t)
  cacheStatements(db, 2)
  const use = (n: number) => (db.prepare(`SELECT ${n}`) as any).bind([]).raw().all()
  use(1); use(2); use(1) // 1 is now the most recently used
  use(3) // evicts 2
  use(1)
  t.same(prepared.filter(sql => sql === 'SELECT 1').length, 1, 'kept while used')
  use(2)
  t.same(prepared.filter(sql => sql === 'SELECT 2').length, 2, 'evicted, so prepared again')
})

t.test('a statement in use stays however many others pass through, and a hit in the newer half moves nothing', async t => {
  const { db, prepared } = countingDb(t)
  cacheStatements(db, 4)
  const use = (sql: string) => (db.prepare(sql) as any).bind([]).raw().all()
  use('SELECT 0')
  for (let n = 1; n <= 20; n++) {
    use(`SELECT ${n}`)
    if (n % 2 === 0) use('SELECT 0') // once per size / 2 insertions
  }
  t.equal(prepared.filter(sql => sql === 'SELECT 0').length, 1, 'prepared once for 11 uses')
  // In insertion order now: SELECT 18, 19, 20, then 0 (moved last). A hit on SELECT 20, in the newer half,
  // leaves it where it is, so that three more insertions evict it (strict LRU would have evicted SELECT 0).
  use('SELECT 20')
  for (const n of [21, 22, 23]) use(`SELECT ${n}`)
  use('SELECT 20')
  t.equal(prepared.filter(sql => sql === 'SELECT 20').length, 2, 'used but not moved, so evicted in turn')
})

t.test('Prisma\'s adapter, wrapped, prepares each statement once', async t => {
  const factory = withStatementCache(new PrismaBetterSqlite3({ url: ':memory:' }))
  t.equal(factory.provider, 'sqlite')
  const adapter = await factory.connect()
  t.teardown(async () => await adapter.dispose())
  const counted = countPrepares((adapter as any).client as Database.Database)
  const query = { sql: 'SELECT ? AS n', args: [1], argTypes: [{ scalarType: 'int' as const, arity: 'scalar' as const }] }
  t.same((await adapter.queryRaw(query)).rows, [[1]])
  t.same((await adapter.queryRaw({ ...query, args: [2] })).rows, [[2]])
  t.equal(await adapter.executeRaw({ sql: 'CREATE TABLE x (a INTEGER)', args: [], argTypes: [] }), 0)
  t.equal(counted.length, 3, 'the adapter still goes through prepare; the cache answers it')
})

t.test('an adapter that no longer exposes its connection fails loudly', async t => {
  const opaque: SqlDriverAdapterFactory = {
    provider: 'sqlite',
    adapterName: 'opaque',
    connect: async () => ({}) as any
  }
  await t.rejects(withStatementCache(opaque).connect(), /no longer exposes its better-sqlite3 connection/)
})
