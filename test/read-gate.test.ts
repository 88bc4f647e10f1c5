import t from 'tap'
import { ReadGate } from '../src/reads/read-gate.js'

t.test('slots up to the concurrency, then a bounded queue served in order, then refusals', async t => {
  const gate = new ReadGate(2, 1, 60_000)
  const a = (await gate.acquire())!
  const b = (await gate.acquire())!
  t.equal(gate.running, 2)
  const c = gate.acquire()
  t.equal(gate.queued, 1)
  t.equal(await gate.acquire(), undefined, 'the queue is full: refused at once')
  t.equal(gate.refused, 1)
  a()
  a() // twice: the second does nothing
  const cRelease = (await c)!
  t.equal(gate.running, 2, 'the queued read took the slot given back')
  t.equal(gate.queued, 0)
  b()
  cRelease()
  t.equal(gate.running, 0)
})

t.test('a read that waits longer than maxWaitMs is refused and leaves the queue', async t => {
  const gate = new ReadGate(1, 5, 20)
  const a = (await gate.acquire())!
  const started = Date.now()
  t.equal(await gate.acquire(), undefined)
  t.ok(Date.now() - started >= 15, 'after its wait')
  t.equal(gate.queued, 0)
  a()
  t.equal(gate.running, 0)
})
