import t from 'tap'
import { MAX_EVENT_TYPE_LENGTH } from '../../src/schemas/ids.js'
import { buildApp, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { makeEvent } from '../helpers/events.js'
import { CONSOLE_PASSWORD, page, signIn } from '../helpers/console.js'
import { CHART_TYPES, ConsoleReads, LABEL_MAX, OTHER_TYPES } from '../../src/db/console/console-reads.js'

// The overview stays bounded whatever types arrive (issue 25): the CHART_TYPES most frequent by name, the
// rest as one bar, every label cut to LABEL_MAX characters, and the breakdown read in chunks, newest first,
// up to a cap, while the total counts every event.

engineTest(t, 'the overview charts the most frequent types and the rest as other, with labels cut', async (t, engine) => {
  const { app } = await buildApp(t, { CONSOLE_PASSWORD }, engine)
  // The longest type intake takes (MAX_EVENT_TYPE_LENGTH): longer than a label may be.
  const long = `long-${'x'.repeat(MAX_EVENT_TYPE_LENGTH - 5)}`
  const types = [long, ...Array.from({ length: 14 }, (_, k) => `type-${String(k).padStart(2, '0')}`)]
  const items = types.flatMap((type, k) => Array.from({ length: type === long ? 20 : 15 - k }, (_, n) => makeEvent({
    eventType: type, method: 'POST', uri: '/v1/unknown', time: new Date().toISOString(), response: {}, id: `e-${k}-${n}`
  })))
  const res = await postEvent(app, items)
  t.equal(res.statusCode, 200)
  t.same([...new Set(res.json().results.map((r: { outcome: string }) => r.outcome))], ['ignored'], 'unknown types are stored as ignored')
  const total = items.length

  const since = new Date(Date.now() - 3_600_000)
  const reads = new ConsoleReads(app.repository)
  const counts = await reads.eventCounts(since, { max: 1000, chunk: 7 })
  t.equal(counts.total, total, 'the total counts every event')
  t.equal(counts.counted, total, 'read in chunks of 7, every one')
  const named = [...new Set(counts.rows.map(r => r.event_type))]
  t.equal(named.length, CHART_TYPES + 1, 'ten types by name, and the rest')
  t.equal(named[0], `${long.slice(0, LABEL_MAX - 1)}…`, 'the most frequent first, its label cut')
  t.ok(named.every(n => n.length <= LABEL_MAX))
  t.equal(named.at(-1), OTHER_TYPES)
  t.equal(counts.rows.reduce((n, r) => n + r.count, 0), total, 'every event in some bar')

  const capped = await reads.eventCounts(since, { max: 30, chunk: 7 })
  t.equal(capped.counted, 30, 'the breakdown stops at its cap')
  t.equal(capped.total, total, 'the total still counts every event')

  const cookie = await signIn(app)
  const body = (await page(app, '/console/', cookie)).body
  t.ok(body.length < 100_000, `the overview page is ${body.length} bytes`)
  t.notMatch(body, 'x'.repeat(LABEL_MAX), 'no label longer than LABEL_MAX')
  t.match(body, `${total} in the last hour`)
  t.match(body, /\(other types\)/)
})
