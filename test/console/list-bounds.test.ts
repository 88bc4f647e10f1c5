import t from 'tap'
import { MAX_EVENT_TYPE_LENGTH } from '../../src/schemas/ids.js'
import { buildApp, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events, makeEvent } from '../helpers/events.js'
import { CONSOLE_PASSWORD, page, signIn } from '../helpers/console.js'
import { cutText, LIST_TEXT_MAX } from '../../src/db/console/list-text.js'

// A console list shows at most LIST_TEXT_MAX characters of any one text field, whatever the rows hold
// (issue 25): a page of rows of megabytes would otherwise be as large as all of them. The item's own page
// shows the whole value.

t.test('cutText keeps short text, cuts long text to LIST_TEXT_MAX characters, never inside a character', async t => {
  t.equal(cutText(null), null)
  t.equal(cutText('a'.repeat(LIST_TEXT_MAX)), 'a'.repeat(LIST_TEXT_MAX))
  t.equal(cutText('a'.repeat(LIST_TEXT_MAX + 1)), `${'a'.repeat(LIST_TEXT_MAX - 1)}…`)
  const faces = '😀'.repeat(LIST_TEXT_MAX)
  t.equal(cutText(faces), faces, `${LIST_TEXT_MAX} characters of two UTF-16 units each are not cut`)
  t.equal(cutText(`${faces}😀`), `${'😀'.repeat(LIST_TEXT_MAX - 1)}…`, 'a cut falls between characters')
  t.equal(cutText('abcdef', 4), 'abc…')
})

engineTest(t, 'lists cut long event types, names, e-mails and quarantine texts; the item pages show them whole', async (t, engine) => {
  const { app } = await buildApp(t, { CONSOLE_PASSWORD }, engine)
  const long = (c: string) => c.repeat(5000)
  const time = new Date().toISOString()
  // A refused key's name is in the quarantine's field (a JSON pointer): `__proto__` under a long key, as JSON text.
  const refused = JSON.stringify(events.createTenant('long-field', { name: 'f' }, { time })).replace(/^\{/, `{"${long('k')}":{"__proto__":1},`)
  const batch = [
    // The longest type intake takes (MAX_EVENT_TYPE_LENGTH), still longer than a list shows.
    makeEvent({ eventType: `type-${'x'.repeat(MAX_EVENT_TYPE_LENGTH - 5)}`, method: 'POST', uri: '/v1/unknown', time, response: {}, id: 'long-type' }),
    events.createTenant('long-t', { name: `name-${long('n')}`, back_office_staff_email: `${long('b')}@example.com` }, { time }),
    events.createUser('long-u', { email: `${long('e')}@example.com`, sign_in_id: long('s') }, { time })
  ]
  const results = (await postEvent(app, `[${batch.map(e => JSON.stringify(e)).join(',')},${refused}]`)).json().results
  t.same(results.map((r: { outcome: string }) => r.outcome), ['ignored', 'applied', 'applied', 'rejected'])
  const cookie = await signIn(app)
  for (const [url, c] of [['/console/events', 'x'], ['/console/tenants?q=long', 'n'], ['/console/tenants?q=long', 'b'], ['/console/users?q=long', 'e'], ['/console/users?q=long', 's'], ['/console/quarantine', 'k']] as const) {
    const res = await page(app, url, cookie)
    t.equal(res.statusCode, 200, url)
    t.notMatch(res.body, c.repeat(LIST_TEXT_MAX), `${url}: no run of ${LIST_TEXT_MAX} '${c}'`)
    t.match(res.body, `${c.repeat(LIST_TEXT_MAX - 10)}`, `${url}: the start of the '${c}' text is there`)
    t.match(res.body, '…', `${url}: marked as cut`)
    t.ok(res.body.length < 40_000, `${url}: ${res.body.length} bytes`)
  }
  t.match((await page(app, '/console/events/long-type', cookie)).body, 'x'.repeat(MAX_EVENT_TYPE_LENGTH - 5), 'the event page shows the whole type')
  t.match((await page(app, '/console/tenants/long-t', cookie)).body, long('n'), 'the tenant page shows the whole name')
})
