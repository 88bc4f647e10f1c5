import { randomBytes } from 'node:crypto'
import t from 'tap'
import { engineTest } from '../helpers/engines.js'
import { buildApp, getJson, postEvent } from '../helpers/app.js'
import { events } from '../helpers/events.js'

// No event answers 500 for what it holds (issue 23): a value the database cannot store is a refusal (400 alone,
// `rejected` in a batch, quarantined with the database's reason), never a fault EventBridge would retry for a
// day; the other events of its group commit are written as if it had not been there.

const time = '2026-05-19T02:22:58Z'

/** Text that does not compress: random CJK characters, 3 bytes each in UTF-8. */
const incompressible = (chars: number): string =>
  String.fromCodePoint(...[...randomBytes(chars * 2)].reduce<number[]>((codes, byte, i, bytes) =>
    i % 2 === 0 ? [...codes, 0x4E00 + ((byte << 8 | bytes[i + 1]) % 20000)] : codes, []))

/** A tenant whose one attribute key is longer than a PostgreSQL B-tree index row may be (about 2.7 kB). */
const unstorableTenant = (id: string) => events.createTenant(id, { name: 'too long a key', attributes: { [incompressible(3000)]: 1 } }, { time })

engineTest(t, 'an event the database cannot store answers 400, is quarantined with the reason, and can be sent again', async (t, engine) => {
  const { app, logs } = await buildApp(t, {}, engine)
  const event = unstorableTenant('u-t1')
  const res = await postEvent(app, event)
  if (engine.name === 'sqlite') {
    // SQLite has no such limit: the same event is applied.
    t.equal(res.statusCode, 200)
    t.same(res.json().results, [{ id: event.id, outcome: 'applied' }])
    return
  }
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, field: '', message: /^body could not be stored: index row .*\(54000\); refused, not retried$/ })
  const [kept] = await app.repository.quarantined()
  t.match(kept, { envelopeId: event.id, field: '', error: /^could not be stored: index row / })
  t.equal((await getJson(app, `/events/${event.id}`)).statusCode, 404, 'not in the inbox')
  t.equal((await getJson(app, '/tenants/u-t1')).statusCode, 404, 'nothing of it applied')
  t.notMatch(logs(), /unexpected error/)
  t.equal((await postEvent(app, event)).statusCode, 400, 'sent again: the same refusal, no retry loop')
  t.equal((await app.repository.quarantined())[0].count, 2, 'the same content counted, not kept twice')
})

engineTest(t, 'in a batch the event the database cannot store is refused alone; the others of its group commit are applied', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const before = events.createTenant('u-ok1', { name: 'one' }, { time })
  const bad = unstorableTenant('u-bad')
  const after = events.createUser('u-ok2', { email: 'ok2@example.com' }, { time })
  const res = await postEvent(app, [before, bad, after])
  t.equal(res.statusCode, 200)
  const [first, middle, last] = res.json().results
  t.same(first, { id: before.id, outcome: 'applied' })
  t.same(last, { id: after.id, outcome: 'applied' })
  if (engine.name === 'sqlite') t.same(middle, { id: bad.id, outcome: 'applied' })
  else t.match(middle, { id: bad.id, outcome: 'rejected', error: { field: '', message: /^body could not be stored: index row .*\(54000\)/ } })
  t.equal((await getJson(app, '/tenants/u-ok1')).json().name, 'one')
  t.equal((await getJson(app, '/users/u-ok2')).json().email, 'ok2@example.com')
  t.equal((await app.repository.quarantined()).length, engine.name === 'sqlite' ? 0 : 1)
})
