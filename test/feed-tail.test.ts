import t from 'tap'
import { FETCH_LIMIT, FeedTail, WAKE_CHUNK } from '../src/feed/tail.js'
import type { FeedEntryView } from '../src/db/repository.js'
import type { Page } from '../src/feed/page.js'

// The long poll's shared read, on an in-memory list of entries standing in for the table (the database
// side is tested in feed.test.ts): one read per commit for all waiters, pages cut per waiter, reads that
// never overlap, a failed read that leaves the waiters to their time-out, and close.

const entry = (cursor: number): FeedEntryView => ({
  cursor, entity: 'user', key: { id: `u${cursor}` }, op: 'upsert', fields: {}, cause: { kind: 'rebuild' }, recorded_at: new Date(0).toISOString()
})

const cursors = (page: Page | undefined): number[] => page?.entries.map(e => e.cursor) ?? []

function source (entries: FeedEntryView[]) {
  const calls: Array<[number, number]> = []
  const budgets: number[] = []
  let fail = false
  return {
    calls,
    budgets,
    failNext: () => { fail = true },
    feedEntryTexts: async (after: number, limit: number, maxBytes: number) => {
      calls.push([after, limit])
      budgets.push(maxBytes)
      await new Promise(resolve => setImmediate(resolve))
      if (fail) { fail = false; throw new Error('read failed') }
      return entries.filter(e => e.cursor > after).slice(0, limit).map(e => ({ cursor: e.cursor, json: JSON.stringify(e) }))
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
  t.same(cursors(await a), [1, 2], 'cut at its limit')
  t.same(cursors(await b), [2, 3])
  t.same(src.calls, [[0, FETCH_LIMIT]], 'one read for all')
  t.equal(tail.waiting, 1, 'the waiter beyond the head still waits')
  entries.push(...Array.from({ length: 7 }, (_, k) => entry(4 + k)))
  tail.advance(9)
  tail.advance(10) // during the read: one more read after it
  t.same(cursors(await c), [10])
  t.equal(tail.known, 10)
})

t.test('a waiter that registers after a commit it has not read is served at once', async t => {
  const src = source([entry(1)])
  const tail = new FeedTail(src, err => { throw err })
  tail.advance(1) // nobody waits: no read
  t.same(src.calls, [])
  t.same(cursors(await tail.wait(0, 10, 5000)), [1])
})

t.test('a full read is followed by another for whoever is still waiting', async t => {
  const entries = Array.from({ length: FETCH_LIMIT + 5 }, (_, k) => entry(k + 1))
  const src = source(entries)
  const tail = new FeedTail(src, err => { throw err })
  const early = tail.wait(0, 1, 5000)
  const late = tail.wait(FETCH_LIMIT + 2, 10, 5000)
  tail.advance(FETCH_LIMIT + 5)
  t.same(cursors(await early), [1])
  t.same(cursors(await late), [FETCH_LIMIT + 3, FETCH_LIMIT + 4, FETCH_LIMIT + 5])
  t.same(src.calls, [[0, FETCH_LIMIT], [FETCH_LIMIT + 2, FETCH_LIMIT]])
})

t.test('a failed read is reported and leaves the waiters to their time-out; close answers the rest', async t => {
  const src = source([entry(1)])
  const errors: unknown[] = []
  const tail = new FeedTail(src, err => { errors.push(err) })
  src.failNext()
  const waiting = tail.wait(0, 10, 100)
  tail.advance(1)
  t.equal(await waiting, undefined, 'answered with nothing at the end of its wait')
  t.match(errors, [{ message: 'read failed' }])
  const held = tail.wait(5, 10, 60_000)
  tail.advance(6) // heard of, but nothing after 5 is there to read (yet): it keeps waiting
  while (src.calls.length < 2) await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(tail.waiting, 1)
  tail.close()
  t.equal(await held, undefined, 'close answers at once')
  t.equal(tail.waiting, 0)
  tail.poke() // nobody waits: nothing to read
  t.equal(src.calls.length, 2)
})

t.test('waiters woken by one read with one cursor and limit share one page; the read keeps to the byte budget', async t => {
  const src = source([entry(1), entry(2)])
  const tail = new FeedTail(src, err => { throw err }, 4096)
  const pages = Array.from({ length: 50 }, async () => await tail.wait(0, 10, 5000))
  const other = tail.wait(0, 1, 5000)
  tail.advance(2)
  const answered = await Promise.all(pages)
  t.same(src.budgets, [4096], 'one read, with the budget')
  t.same(JSON.parse(answered[0]!.json.toString()), { entries: [entry(1), entry(2)], next_after: 2 }, 'the page as JSON')
  t.ok(answered.every(p => p === answered[0]), 'the same page for every waiter')
  t.same(JSON.parse((await other)!.json.toString()), { entries: [entry(1)], next_after: 1 }, 'a page of its own for another limit')
})

t.test('many waiters are answered a chunk at a time, the event loop turning between chunks', async t => {
  const src = source([entry(1)])
  const tail = new FeedTail(src, err => { throw err })
  let answered = 0
  const pages = Array.from({ length: WAKE_CHUNK * 3 }, async () => { await tail.wait(0, 10, 5000); answered++ })
  // Each turn of the loop, note how many were answered so far.
  const seen: number[] = []
  let turning = true
  const turn = (): void => { seen.push(answered); if (turning) setImmediate(turn) }
  setImmediate(turn)
  tail.advance(1)
  await Promise.all(pages)
  turning = false
  t.ok(seen.some(n => n > 0 && n < WAKE_CHUNK * 3), `some turns saw part of them answered (${[...new Set(seen)].join(', ')})`)
  t.ok(seen.every(n => n % WAKE_CHUNK === 0), 'whole chunks between turns')
})

t.test('waiters answered otherwise between two chunks (close) are not answered twice', async t => {
  const src = source([entry(1)])
  const tail = new FeedTail(src, err => { throw err })
  const pages = Array.from({ length: WAKE_CHUNK * 2 }, async () => await tail.wait(0, 10, 5000))
  // Once the first chunk is answered (before the loop turns), the server closes.
  void pages[0].then(() => { tail.close() })
  tail.advance(1)
  const answered = await Promise.all(pages)
  t.equal(answered.filter(p => p?.entries.length === 1).length, WAKE_CHUNK, 'the first chunk has its page')
  t.equal(answered.filter(p => p === undefined).length, WAKE_CHUNK, 'the rest were answered by close, once')
  t.equal(tail.waiting, 0)
})
