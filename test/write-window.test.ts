import t from 'tap'
import { WriteWindow, settlesWithin, writeWeight } from '../src/services/write-window.js'
import { attributes, put } from '../src/events/changes.js'
import { makeVersion } from '../src/events/version.js'

t.test('the weight of a plan is about the rows it writes', async t => {
  t.equal(writeWeight({ kind: 'ignored', reason: 'x' }), 1)
  t.equal(writeWeight({ kind: 'changes', changes: [] }), 1)
  const version = makeVersion(0, 'POST', 'e')
  t.equal(writeWeight({ kind: 'changes', changes: [put('tenant', { id: 't' }, version), attributes('tenant', { tenantId: 't' }, version, { a: 1, b: 2 })] }), 4)
})

t.test('a write window holds back an event that does not fit until earlier writes settle, or until the time runs out', async t => {
  const window = new WriteWindow(10)
  const forever = (): number => 60_000
  t.equal(await window.room(50, forever), true, 'one event always fits in an empty window')
  let finish!: () => void
  window.add(6, new Promise<void>(resolve => { finish = resolve }))
  t.equal(await window.room(4, forever), true, 'what fits is not held back')
  window.add(4, Promise.resolve())
  await new Promise(resolve => setImmediate(resolve))
  let admitted = false
  const waiting = window.room(5, forever).then(ok => { admitted = ok })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(admitted, false, '6 + 5 rows do not fit in 10: it waits')
  finish()
  await waiting
  t.equal(admitted, true, 'admitted once the earlier write settled')

  const full = new WriteWindow(1)
  full.add(1, new Promise<void>(() => {}))
  t.equal(await full.room(1, () => 10), false, 'false when the time runs out first')
  t.equal(await settlesWithin(Promise.resolve(), 0), true)
})
