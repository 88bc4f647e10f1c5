import t from 'tap'
import { SLICE_MS, WorkSlice } from '../src/work-slice.js'

const block = (ms: number): void => {
  const started = performance.now()
  while (performance.now() - started < ms) { /* synchronous work */ }
}

t.test('a work slice yields to the event loop once it has taken its milliseconds, and only then', async t => {
  let ticks = 0
  const ticker = setInterval(() => { ticks++ }, 1)
  t.teardown(() => clearInterval(ticker))
  const unspent = new WorkSlice(60_000)
  for (let i = 0; i < 20; i++) { block(2); await unspent.turn() }
  t.equal(ticks, 0, 'a slice that is not spent never yields: the timer could not run')
  const spent = new WorkSlice(1)
  for (let i = 0; i < 3; i++) { block(2); await spent.turn() }
  t.ok(ticks >= 2, `a spent slice yields, and the timer ran in between (${ticks} times)`)
  t.equal(new WorkSlice().ms, SLICE_MS)
})
