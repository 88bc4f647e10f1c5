import t from 'tap'
import { Batcher } from '../../src/db/writing/batcher.js'

// The batching logic on its own: the write function here stands for one database transaction.

class Transient extends Error {}
const isTransient = (err: unknown) => err instanceof Transient

t.test('items that arrive together share a write, up to maxItems, and each gets its own result', async t => {
  const writes: number[][] = []
  const batcher = new Batcher<number, string>(async items => { writes.push(items); return items.map(i => `r${i}`) }, { maxItems: 3, maxWaitMs: 5, maxConcurrent: 1, isTransient })
  const sizes: number[] = []
  batcher.onBatch = n => sizes.push(n)
  const results = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(async i => await batcher.submit(i)))
  t.same(results, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'])
  t.same(writes, [[1, 2, 3], [4, 5, 6], [7]], 'full batches at once, the rest after the wait')
  t.same(sizes, [3, 3, 1])
})

t.test('one write at a time; what queues meanwhile goes in the next batch at once', async t => {
  let running = 0
  let most = 0
  const writes: number[][] = []
  const batcher = new Batcher<number, number>(async items => {
    running++
    most = Math.max(most, running)
    writes.push(items)
    await new Promise(resolve => setTimeout(resolve, 20))
    running--
    return items
  }, { maxItems: 100, maxWaitMs: 1000, maxConcurrent: 1, isTransient })
  const first = batcher.submit(1)
  await new Promise(resolve => setTimeout(resolve, 1010)) // the first batch is written after maxWaitMs
  const rest = [2, 3, 4].map(async i => await batcher.submit(i))
  t.equal(await first, 1)
  const started = Date.now()
  t.same(await Promise.all(rest), [2, 3, 4])
  t.ok(Date.now() - started < 900, 'queued items did not wait for another maxWaitMs')
  t.equal(most, 1)
})

t.test('a failing item fails alone: the batch is written again item by item', async t => {
  const writes: number[][] = []
  const batcher = new Batcher<number, number>(async items => {
    writes.push(items)
    if (items.includes(13)) throw new Error('13 is unlucky')
    return items.map(i => i * 2)
  }, { maxItems: 10, maxWaitMs: 1, maxConcurrent: 1, isTransient })
  const results = await Promise.allSettled([11, 12, 13, 14].map(async i => await batcher.submit(i)))
  t.same(results.map(r => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
  t.same(results.filter(r => r.status === 'fulfilled').map(r => (r as PromiseFulfilledResult<number>).value), [22, 24, 28])
  t.match((results[2] as PromiseRejectedResult).reason, { message: '13 is unlucky' })
  t.same(writes, [[11, 12, 13, 14], [11], [12], [13], [14]])
})

t.test('a transient failure fails the whole batch at once (the caller answers 503 and is retried)', async t => {
  let calls = 0
  const batcher = new Batcher<number, number>(async () => { calls++; throw new Transient('database locked') }, { maxItems: 10, maxWaitMs: 1, maxConcurrent: 1, isTransient })
  const results = await Promise.allSettled([1, 2, 3].map(async i => await batcher.submit(i)))
  t.ok(results.every(r => r.status === 'rejected' && r.reason instanceof Transient))
  t.equal(calls, 1, 'no item-by-item retry')
  const after = new Batcher<number, number>(async items => items, { maxItems: 10, maxWaitMs: 1, maxConcurrent: 1, isTransient })
  t.equal(await after.submit(5), 5)
})

t.test('with maxConcurrent, that many batches are written at once and no more', async t => {
  let running = 0
  let most = 0
  const batcher = new Batcher<number, number>(async items => {
    running++
    most = Math.max(most, running)
    await new Promise(resolve => setTimeout(resolve, 20))
    running--
    return items
  }, { maxItems: 2, maxWaitMs: 1, maxConcurrent: 3, isTransient })
  const results = await Promise.all([...Array(12).keys()].map(async i => await batcher.submit(i)))
  t.same(results, [...Array(12).keys()])
  t.equal(most, 3)
})

t.test('with no wait, what arrives in the same turn of the event loop still shares a batch', async t => {
  const writes: number[][] = []
  const batcher = new Batcher<number, number>(async items => { writes.push(items); return items }, { maxItems: 10, maxWaitMs: 0, maxConcurrent: 1, isTransient })
  t.same(await Promise.all([1, 2, 3].map(async i => await batcher.submit(i))), [1, 2, 3])
  await new Promise(resolve => setTimeout(resolve, 5))
  t.same(await batcher.submit(4), 4)
  t.same(writes, [[1, 2, 3], [4]])
})

// Idle work (SQLite's WAL checkpoints): after the answers, only when nothing waits, holding the writer's turn.
const tick = async () => await new Promise(resolve => setTimeout(resolve, 5))

t.test('idle work runs after a batch is answered when it is due and nothing is queued', async t => {
  const log: string[] = []
  let due = false
  const batcher = new Batcher<number, number>(async items => { log.push(`write ${items.join(',')}`); return items }, {
    maxItems: 10, maxWaitMs: 0, maxConcurrent: 1, isTransient,
    idle: { due: () => due, run: async () => { log.push('idle'); due = false } }
  })
  await batcher.submit(1).then(() => log.push('answered 1'))
  await tick()
  t.same(log, ['write 1', 'answered 1'], 'not due: nothing runs')
  due = true
  await batcher.submit(2).then(() => log.push('answered 2'))
  await tick()
  t.same(log, ['write 1', 'answered 1', 'write 2', 'answered 2', 'idle'], 'due: runs once, after the answer')
})

t.test('items that arrive while idle work runs wait for it, then form the next batch', async t => {
  const log: string[] = []
  let release = () => {}
  let due = true
  const batcher = new Batcher<number, number>(async items => { log.push(`write ${items.join(',')}`); return items }, {
    maxItems: 10, maxWaitMs: 0, maxConcurrent: 1, isTransient,
    idle: { due: () => due, run: async () => { due = false; log.push('idle starts'); await new Promise<void>(resolve => { release = resolve }); log.push('idle ends') } }
  })
  await batcher.submit(1)
  await tick()
  const later = [2, 3].map(async i => await batcher.submit(i))
  await tick()
  t.same(log, ['write 1', 'idle starts'], 'the writer waits for the idle work')
  release()
  t.same(await Promise.all(later), [2, 3])
  t.same(log, ['write 1', 'idle starts', 'idle ends', 'write 2,3'])
})

t.test('idle work is skipped while items wait, and runs once the queue is empty', async t => {
  let runs = 0
  let writes = 0
  const batcher = new Batcher<number, number>(async items => { writes++; await tick(); return items }, {
    maxItems: 1, maxWaitMs: 0, maxConcurrent: 1, isTransient,
    idle: { due: () => true, run: async () => { runs++ } }
  })
  // One item per batch; the others are queued when each batch is answered.
  t.same(await Promise.all([1, 2, 3].map(async i => await batcher.submit(i))), [1, 2, 3])
  await tick()
  t.equal(writes, 3)
  t.equal(runs, 1, 'only after the last batch')
  // Answered, then a new item in the same turn: the idle work gives way to it.
  await batcher.submit(4).then(() => { void batcher.submit(5) })
  await tick()
  await tick()
  t.equal(writes, 5)
  t.equal(runs, 2, 'not between 4 and 5, once after 5')
})

t.test('a failing idle run is reported and the batcher carries on', async t => {
  const reported: unknown[] = []
  const failing = { due: () => true, run: async () => { throw new Error('checkpoint failed') } }
  const batcher = new Batcher<number, number>(async items => items, {
    maxItems: 10, maxWaitMs: 0, maxConcurrent: 1, isTransient, idle: failing, onIdleError: err => reported.push(err)
  })
  t.equal(await batcher.submit(1), 1)
  await tick()
  t.match(reported, [{ message: 'checkpoint failed' }])
  t.equal(await batcher.submit(2), 2, 'the next batch is written')
  const silent = new Batcher<number, number>(async items => items, { maxItems: 10, maxWaitMs: 0, maxConcurrent: 1, isTransient, idle: failing })
  t.equal(await silent.submit(1), 1)
  await tick()
  t.equal(await silent.submit(2), 2, 'without a listener too')
})
