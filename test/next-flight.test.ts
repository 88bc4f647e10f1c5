import t from 'tap'
import { NextFlight } from '../src/next-flight.js'

// NextFlight: callers that come during a run share the next run, never the one that started before them.

t.test('callers during a run share the next one; each answer was read after its caller came', async t => {
  let runs = 0
  const gates: Array<() => void> = []
  const flight = new NextFlight(async () => {
    const run = ++runs
    await new Promise<void>(resolve => gates.push(resolve))
    return run
  })
  const first = flight.get()
  const during = [flight.get(), flight.get(), flight.get()]
  t.equal(runs, 1, 'one run so far')
  gates.shift()!()
  t.equal(await first, 1)
  while (gates.length === 0) await new Promise(resolve => setImmediate(resolve))
  const late = flight.get() // during the second run: waits for a third
  gates.shift()!()
  t.same(await Promise.all(during), [2, 2, 2], 'those who came during run 1 get run 2')
  while (gates.length === 0) await new Promise(resolve => setImmediate(resolve))
  gates.shift()!()
  t.equal(await late, 3)
  t.equal(runs, 3)
  const alone = flight.get()
  gates.shift()!()
  t.equal(await alone, 4, 'nobody running: a run at once')
})

t.test('a failed run fails its callers only; the next run goes ahead', async t => {
  let fail = true
  const gates: Array<() => void> = []
  const flight = new NextFlight(async () => {
    await new Promise<void>(resolve => gates.push(resolve))
    if (fail) { fail = false; throw new Error('run failed') }
    return 'ok'
  })
  const first = flight.get()
  const next = flight.get()
  gates.shift()!()
  await t.rejects(first, { message: 'run failed' })
  while (gates.length === 0) await new Promise(resolve => setImmediate(resolve))
  gates.shift()!()
  t.equal(await next, 'ok')
})
