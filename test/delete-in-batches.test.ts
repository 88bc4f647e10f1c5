import t from 'tap'
import { BATCH_MS, MIN_ROWS, PAUSE_MS, deleteInBatches } from '../src/db/delete-in-batches.js'

/** A table of `rows` rows whose batches take `took(deleted)` ms, on a fake clock; what was asked and paused. */
function table (rows: number, took: (deleted: number) => number) {
  let clock = 0
  let left = rows
  const asked: number[] = []
  const pauses: number[] = []
  return {
    asked,
    pauses,
    now: () => clock,
    pause: async (ms: number) => { pauses.push(ms); clock += ms },
    deleteBatch: async (limit: number) => {
      asked.push(limit)
      const deleted = Math.min(left, limit)
      left -= deleted
      clock += took(deleted)
      return deleted
    }
  }
}

t.test('batches grow towards BATCH_MS, at most doubling, up to maxRows; a pause after each but the last', async t => {
  // 5,000 rows take BATCH_MS.
  const fake = table(30_000, deleted => deleted * BATCH_MS / 5000)
  t.equal(await deleteInBatches(fake.deleteBatch, { maxRows: 8000, now: fake.now, pause: fake.pause }), 30_000)
  t.same(fake.asked, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000], 'doubling, then held at the rows BATCH_MS allows')
  t.equal(fake.pauses.length, fake.asked.length - 1, 'no pause after the batch that found fewer rows')
  t.ok(fake.pauses.every(ms => ms === PAUSE_MS), 'batches shorter than PAUSE_MS: pauses of PAUSE_MS')
})

t.test('maxRows caps a batch', async t => {
  const fake = table(10, () => 0)
  t.equal(await deleteInBatches(fake.deleteBatch, { maxRows: 4, now: fake.now, pause: fake.pause }), 10)
  t.same(fake.asked, [4, 4, 4])
})

t.test('a slow batch halves the next one, down to MIN_ROWS, and the pause lasts as long as the batch', async t => {
  // 1,000 rows take 10 ms, then every batch takes 1 s (waiting for the lock, say): far over BATCH_MS.
  let batches = 0
  const fake = table(5000, deleted => ++batches === 1 ? deleted / 100 : 1000)
  t.equal(await deleteInBatches(fake.deleteBatch, { maxRows: 2000, now: fake.now, pause: fake.pause }), 5000)
  t.same(fake.asked.slice(0, 6), [MIN_ROWS, MIN_ROWS * 2, MIN_ROWS, MIN_ROWS, MIN_ROWS, MIN_ROWS], 'halved, then held at MIN_ROWS')
  t.same(fake.pauses.slice(0, 3), [PAUSE_MS, 1000, 1000], 'as long as the batch before')
})

t.test('between halving and doubling, a batch is sized to take BATCH_MS', async t => {
  // 300 rows take BATCH_MS.
  const fake = table(1000, deleted => deleted * BATCH_MS / 300)
  t.equal(await deleteInBatches(fake.deleteBatch, { maxRows: 1000, now: fake.now, pause: fake.pause }), 1000)
  t.same(fake.asked, [MIN_ROWS, 200, 300, 300, 300], 'doubled once, then the rows BATCH_MS allows')
})

t.test('nothing to delete: one batch, no pause', async t => {
  const fake = table(0, () => 1)
  t.equal(await deleteInBatches(fake.deleteBatch, { maxRows: 1000, now: fake.now, pause: fake.pause }), 0)
  t.same(fake.asked, [100])
  t.same(fake.pauses, [])
})

t.test('the real clock and pause by default', async t => {
  let left = 3
  const started = performance.now()
  t.equal(await deleteInBatches(async rows => { const n = Math.min(left, rows); left -= n; return n }, { maxRows: 1, pauseMs: 20 }), 3)
  t.ok(performance.now() - started >= 59, 'three pauses of 20 ms (none after the fourth batch, which found none)')
})
