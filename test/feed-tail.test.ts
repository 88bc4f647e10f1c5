import t from 'tap'
import { FETCH_LIMIT, FeedTail } from '../src/feed/tail.js'
import type { FeedEntryView } from '../src/db/repository.js'

// The long poll's shared read, on an in-memory list of entries standing in for the table (the database
// side is tested in feed.test.ts): one read per commit for all waiters, pages cut per waiter, reads that
// never overlap, a failed read that leaves the waiters to their time-out, and close.

const entry = (cursor: number): FeedEntryView => ({
  cursor, entity: 'user', key: { id: `u${cursor}` }, op: 'upsert', fields: {}, cause: { kind: 'rebuild' }, recorded_at: new Date(0).toISOString()
})

function source (entries: FeedEntryView[]) {
  const calls: Array<[number, number]> = []
  const budgets: number[] = []
  let fail = false
  return {
    calls,
    budgets,
    failNext: () => { fail = true },
    feedEntries: async (after: number, limit: number, maxBytes: number) => {
      calls.push([after, limit])
      budgets.push(maxBytes)
      await new Promise(resolve => setImmediate(resolve))
      if (fail) { fail = false; throw new Error('read failed') }
      return entries.filter(e => e.cursor > after).slice(0, limit)
    }
  }
}

t.test('one read wakes every waiter with its own page; commits heard during a read make one more', async t => {
  const entries: FeedEntryView[] = []
  const src = source(entries)
  const tail = new FeedTail(src, err => { throw err })
  const a = tail.wait(0, 2, 5000)
  const b = tail.wait(1, 10, 5000)
  const c = tail.wait(9, 10, 5000)
  t.equal(tail.waiting, 3)
  entries.push(entry(1), entry(2), entry(3))
  tail.advance(3)
  tail.advance(3) // already known: nothing
  t.same((await a).map(e => e.cursor), [1, 2], 'cut at its limit')
  t.same((await b).map(e => e.cursor), [2, 3])
  t.same(src.calls, [[0, FETCH_LIMIT]], 'one read for all')
  t.equal(tail.waiting, 1, 'the waiter beyond the head still waits')
  entries.push(...Array.from({ length: 7 }, (_, k) => entry(4 + k)))
  tail.advance(9)
  tail.advance(10) // during the read: one more read after it
  t.same((await c).map(e => e.cursor), [10])
  t.equal(tail.known, 10)
})

t.test('a waiter that registers after a commit it has not read is served at once', async t => {
  const src = source([entry(1)])
  const tail = new FeedTail(src, err => { throw err })
  tail.advance(1) // nobody waits: no read
  t.same(src.calls, [])
  t.same((await tail.wait(0, 10, 5000)).map(e => e.cursor), [1])
})

t.test('a full read is followed by another for whoever is still waiting', async t => {
  const entries = Array.from({ length: FETCH_LIMIT + 5 }, (_, k) => entry(k + 1))
  const src = source(entries)
  const tail = new FeedTail(src, err => { throw err })
  const early = tail.wait(0, 1, 5000)
  const late = tail.wait(FETCH_LIMIT + 2, 10, 5000)
  tail.advance(FETCH_LIMIT + 5)
  t.same((await early).map(e => e.cursor), [1])
  t.same((await late).map(e => e.cursor), [FETCH_LIMIT + 3, FETCH_LIMIT + 4, FETCH_LIMIT + 5])
  t.same(src.calls, [[0, FETCH_LIMIT], [FETCH_LIMIT + 2, FETCH_LIMIT]])
})

t.test('a failed read is reported and leaves the waiters to their time-out; close answers the rest', async t => {
  const src = source([entry(1)])
  const errors: unknown[] = []
  const tail = new FeedTail(src, err => { errors.push(err) })
  src.failNext()
  const waiting = tail.wait(0, 10, 100)
  tail.advance(1)
  t.same(await waiting, [], 'answered empty at the end of its wait')
  t.match(errors, [{ message: 'read failed' }])
  const held = tail.wait(5, 10, 60_000)
  tail.advance(6) // heard of, but nothing after 5 is there to read (yet): it keeps waiting
  while (src.calls.length < 2) await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(tail.waiting, 1)
  tail.close()
  t.same(await held, [], 'close answers at once')
  t.equal(tail.waiting, 0)
  tail.poke() // nobody waits: nothing to read
  t.equal(src.calls.length, 2)
})

t.test('waiters woken by one read share each entry\'s serialised JSON; the read keeps to the byte budget', async t => {
  const src = source([entry(1), entry(2)])
  const tail = new FeedTail(src, err => { throw err }, 4096)
  const pages = Array.from({ length: 50 }, async () => await tail.wait(0, 10, 5000))
  tail.advance(2)
  const answered = await Promise.all(pages)
  t.same(src.budgets, [4096], 'one read, with the budget')
  t.same(JSON.parse(answered[0][0].json.toString()), entry(1), 'the entry as JSON')
  t.ok(answered.every(p => p.length === 2 && p[0].json === answered[0][0].json && p[1].json === answered[0][1].json), 'the same buffers for every waiter')
})
