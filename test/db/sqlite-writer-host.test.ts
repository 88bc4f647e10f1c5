import t from 'tap'
import { join } from 'node:path'
import { migrateSqlite } from '../../src/db/engines/sqlite.js'
import { WriterHost, WriterHosts } from '../../src/db/engines/sqlite-writer-host.js'
import { decodeEvent } from '../../src/events/decode.js'
import { planEvent } from '../../src/events/changes.js'
import type { BatchItem } from '../../src/db/writing/batch-write.js'
import type { BatchReply } from '../../src/db/engines/sqlite-writer-messages.js'
import { events } from '../helpers/events.js'
import { tempDir } from '../helpers/app.js'

// What the SQLite writer thread does, run here on the main thread: sqlite-writer-thread.ts only posts each
// message to WriterHosts and its answer back (sqlite-writer.test.ts drives the real thread).

const q = (text: string) => ({ sql: text, args: [], argTypes: [] })
const limits = { maxWaitMs: 1000, timeoutMs: 5000 }

async function migrated (t: Parameters<typeof tempDir>[0]): Promise<string> {
  const path = join(tempDir(t), 'host.db')
  await migrateSqlite({ url: `file:${path}`, busyTimeoutMs: 100, synchronous: 'FULL' })
  return path
}

function item (event: Record<string, any>): BatchItem {
  const decoded = decodeEvent(event)
  if (!decoded.ok) throw new Error(decoded.problem.message)
  const planned = planEvent(decoded.event)
  if (!planned.ok) throw new Error(planned.problem.message)
  return { event: decoded.event, plan: planned.plan }
}

t.test('one host per connection: statements, transactions, batches, and close', async t => {
  const path = await migrated(t)
  const hosts = new WriterHosts()
  const call = async (request: any, connection = 1) => await hosts.handle({ id: 0, connection, request })
  t.equal(await call({ op: 'open', options: { path, busyTimeoutMs: 100, synchronous: 'FULL' } }), undefined)
  t.same((await call({ op: 'query', query: q('PRAGMA synchronous') }) as { rows: unknown[] }).rows, [[2]], 'the connection commits at FULL')
  await call({ op: 'script', script: 'CREATE TABLE "scratch" ("a" INTEGER)' })
  t.equal(await call({ op: 'execute', query: q('INSERT INTO "scratch" VALUES (1)') }), 1)

  const kept = await call({ op: 'begin' }) as number
  await call({ op: 'execute', query: q('INSERT INTO "scratch" VALUES (2)'), tx: kept })
  await call({ op: 'execute', query: q('COMMIT'), tx: kept })
  await call({ op: 'commit', tx: kept })
  const dropped = await call({ op: 'begin' }) as number
  t.not(dropped, kept, 'each transaction has its own number')
  await call({ op: 'execute', query: q('INSERT INTO "scratch" VALUES (3)'), tx: dropped })
  await call({ op: 'execute', query: q('ROLLBACK'), tx: dropped })
  await call({ op: 'rollback', tx: dropped })
  t.same((await call({ op: 'query', query: q('SELECT "a" FROM "scratch" ORDER BY "a"') }) as { rows: unknown[] }).rows, [[1], [2]], 'the committed row stays, the rolled back one does not')
  await t.rejects(call({ op: 'commit', tx: dropped }), { message: `no open transaction ${dropped} on the SQLite writer` })

  const time = '2026-05-19T10:00:00Z'
  const withFeed = await call({ op: 'batch', items: [item(events.createTenant('h-t', { name: 'h' }, { time }))], receivedAt: new Date(), feed: true, limits }) as BatchReply
  t.same(withFeed.outcomes, ['applied'])
  t.same(withFeed.entries, [{ entity: 'tenant', op: 'upsert' }], 'the batch says what it recorded on the feed')
  t.type(withFeed.head, 'number')
  const later = events.updateTenant('h-t', { name: 'h2' }, { time: '2026-05-19T10:00:01Z' })
  const noFeed = await call({ op: 'batch', items: [item(later)], receivedAt: new Date(), feed: false, limits }) as BatchReply
  t.same(noFeed.outcomes, ['applied'])
  t.same(noFeed.entries, [], 'without the feed, nothing recorded on it')

  await t.rejects(call({ op: 'query', query: q('SELECT 1') }, 2), { name: 'TypeError', message: 'The database connection is not open' }, 'another connection was never opened')
  await call({ op: 'close' })
  await t.rejects(call({ op: 'query', query: q('SELECT 1') }), { name: 'TypeError', message: 'The database connection is not open' }, 'closed')
})

t.test('a connection whose setting fails is disposed of and the error thrown', async t => {
  const path = await migrated(t)
  await t.rejects(WriterHost.open({ path, busyTimeoutMs: 100, synchronous: 'FULL; bogus' }))
})
