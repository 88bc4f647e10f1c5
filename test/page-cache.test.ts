import t from 'tap'
import { PageCache, type ReadPage } from '../src/feed/page-cache.js'
import { pageOf } from '../src/feed/page.js'

// The change feed's page cache on its own (the route's use of it on both engines is in feed.test.ts):
// concurrent reads of one range share one read, complete pages are kept within the byte budget, least
// recently used out first, pages at the head are not kept, and a failed read is not remembered.

const page = (cursor: number, bytes: number): ReadPage['page'] =>
  pageOf([{ cursor, json: Buffer.from(JSON.stringify({ cursor, pad: 'x'.repeat(bytes) })) }], cursor - 1)

t.test('concurrent requests share a read; a complete page is kept, one at the head is not', async t => {
  const cache = new PageCache(10_000)
  let reads = 0
  const read = (final: boolean) => async (): Promise<ReadPage> => {
    reads++
    await new Promise(resolve => setImmediate(resolve))
    return { page: page(1, 10), final }
  }
  const both = await Promise.all([cache.get(0, 10, 5, read(false)), cache.get(0, 10, 5, read(false))])
  t.equal(reads, 1, 'one read for both')
  t.equal(both[0], both[1], 'the same page')
  await cache.get(0, 10, 5, read(false))
  t.equal(reads, 2, 'a page at the head is read again')
  await cache.get(0, 10, 6, read(true))
  const kept = await cache.get(0, 10, 7, read(true))
  t.equal(reads, 3, 'a complete page is kept')
  t.same(JSON.parse(kept.json.toString()).next_after, 1)
  t.equal(await cache.get(0, 9, 7, read(true)) === kept, false, 'another limit is another page')
  t.equal(cache.reads, 4)
  t.equal(cache.hits, 2)
  // Two reads of one range under different heads, both complete: kept once.
  const bytes = cache.bytes
  await Promise.all([cache.get(1, 10, 8, read(true)), cache.get(1, 10, 9, read(true))])
  t.equal(reads, 6)
  t.equal(cache.bytes, bytes + page(1, 10).json.length, 'counted once')
})

t.test('kept pages stay within the byte budget, least recently used out first; large pages are not kept', async t => {
  const size = page(1, 100).json.length
  const cache = new PageCache(size * 4)
  let reads = 0
  const get = async (after: number, bytes = 100) => await cache.get(after, 1, 1000, async () => { reads++; return { page: page(after + 1, bytes), final: true } })
  for (const after of [0, 1, 2, 3]) await get(after)
  t.equal(cache.bytes, size * 4)
  await get(0) // used again: the newest
  await get(4) // over budget: 1 goes
  t.equal(cache.bytes, size * 4)
  t.equal(reads, 5)
  for (const after of [0, 2, 3, 4]) await get(after)
  t.equal(reads, 5, 'still kept')
  await get(1)
  t.equal(reads, 6, 'the least recently used was dropped')
  await get(10, size * 2)
  await get(10, size * 2)
  t.equal(reads, 8, 'a page larger than a quarter of the budget is never kept')
})

t.test('a failed read fails every request that shared it, and is not remembered', async t => {
  const cache = new PageCache(10_000)
  const failing = async (): Promise<ReadPage> => { await new Promise(resolve => setImmediate(resolve)); throw new Error('read failed') }
  const results = await Promise.allSettled([cache.get(0, 1, 1, failing), cache.get(0, 1, 1, failing)])
  t.match(results, [{ status: 'rejected', reason: { message: 'read failed' } }, { status: 'rejected', reason: { message: 'read failed' } }])
  t.same(JSON.parse((await cache.get(0, 1, 1, async () => ({ page: page(1, 1), final: true }))).json.toString()).next_after, 1, 'read again')
})
