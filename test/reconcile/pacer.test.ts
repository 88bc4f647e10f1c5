import t from 'tap'
import { ChunkSizer, giveWay } from '../../src/reconcile/pacer.js'

t.test('the sizer starts at its floor and follows the time per row towards its budget, within bounds', async t => {
  const sizer = new ChunkSizer(50, 1000, 32)
  t.equal(sizer.size, 32)
  sizer.took(32, 5)
  t.equal(sizer.size, 64, 'fast rows: at most doubling')
  sizer.took(64, 40)
  t.equal(sizer.size, 80, 'towards 50 ms')
  sizer.took(80, 1000)
  t.equal(sizer.size, 40, 'slow rows: at most halving')
  sizer.took(40, 0)
  t.equal(sizer.size, 80, 'a chunk too fast to time still only doubles')
  sizer.took(80, 10_000)
  sizer.took(40, 10_000)
  t.equal(sizer.size, 32, 'never below the floor')
  t.equal(new ChunkSizer(50, 1000).size, 64, 'the floor is 64 rows by default')
  const capped = new ChunkSizer(50, 10)
  t.equal(capped.size, 10, 'never above the most rows, even for the floor')
  capped.took(10, 1)
  t.equal(capped.size, 10)
  const one = new ChunkSizer(50, 1000, 0)
  one.took(1, 500)
  t.equal(one.size, 1, 'never below one row')
})

t.test('giving way waits while intake is busy, at most for its limit', async t => {
  let busy = 3
  const waited = await giveWay(() => busy-- > 0, 1, 1000)
  t.ok(waited >= 3 && waited < 1000, 'until intake is idle')
  t.ok(await giveWay(() => false, 1, 1000) < 5, 'not at all when idle')
  const capped = await giveWay(() => true, 1, 30)
  t.ok(capped >= 30 && capped < 500, 'never longer than its limit')
})
