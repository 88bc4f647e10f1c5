import t from 'tap'
import { createHash } from 'node:crypto'
import { MAX_EVENT_VALUES } from '../../src/events/json-value.js'
import { EXCERPT_BYTES } from '../../src/events/oversized.js'
import { MAX_ATTRIBUTES, MAX_ROLE_NAMES } from '../../src/schemas/entries.js'
import { buildApp, getJson, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events, makeEvent } from '../helpers/events.js'

// Issue 18: no single request can crash, freeze or bloat the receiver. Small inputs here; the heavy ones
// are in test/stress/intake.stress.ts.

const time = '2026-05-19T02:22:58Z'

engineTest(t, 'a batch longer than BATCH_MAX_ITEMS is refused whole with 413, before any item is looked at', async (t, engine) => {
  const { app } = await buildApp(t, { BATCH_MAX_ITEMS: '5' }, engine)
  let looked = 0
  const quarantine = app.repository.quarantine.bind(app.repository)
  app.repository.quarantine = async (...args) => { looked++; return await quarantine(...args) }
  const res = await postEvent(app, JSON.stringify(new Array(1000).fill(0)))
  t.equal(res.statusCode, 413)
  t.same(res.json(), {
    statusCode: 413,
    error: 'Payload Too Large',
    message: 'a batch holds at most 5 events (BATCH_MAX_ITEMS); this one has 1000: nothing was recorded'
  })
  t.equal(looked, 0, 'nothing was quarantined')
  t.same(await app.repository.quarantined(), [])
  const five = Array.from({ length: 5 }, (_, i) => events.createTenant(`cap-${i}`, { name: `n${i}` }, { time }))
  t.equal((await postEvent(app, five)).statusCode, 200, 'BATCH_MAX_ITEMS items are taken')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, 'receiver_requests_rejected_total{reason="size"} 1')
})

engineTest(t, 'a batch is taken in chunks of BATCH_MAX_EVENTS that yield to the event loop; invalid items are quarantined one transaction per chunk', async (t, engine) => {
  const { app } = await buildApp(t, { BATCH_MAX_EVENTS: '4' }, engine)
  // A ticker that counts event-loop turns: without yielding, every item would be submitted in one turn.
  let turn = 0
  let ticking = true
  const tick = (): void => { turn++; if (ticking) setImmediate(tick) }
  setImmediate(tick)
  const submittedAt: number[] = []
  const record = app.repository.record.bind(app.repository)
  app.repository.record = async (event, plan) => { submittedAt.push(turn); return await record(event, plan) }
  const chunks: number[] = []
  const quarantine = app.repository.quarantine.bind(app.repository)
  app.repository.quarantine = async (entries, at) => { chunks.push(entries.length); return await quarantine(entries, at) }

  const valid = Array.from({ length: 8 }, (_, i) => events.createTenant(`chunk-${i}`, { name: `n${i}` }, { time }))
  const invalid = Array.from({ length: 6 }, (_, i) => ({ invalid: i }))
  const res = await postEvent(app, [...valid, ...invalid])
  ticking = false
  t.equal(res.statusCode, 200)
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), [...valid.map(() => 'applied'), ...invalid.map(() => 'rejected')])
  t.equal(submittedAt.length, 8)
  t.equal(new Set(submittedAt.slice(0, 4)).size, 1, 'one chunk is submitted in one turn')
  t.ok(submittedAt[4] > submittedAt[3], `the next chunk comes in a later turn (${submittedAt.join(',')})`)
  t.same(chunks, [4, 2], 'one quarantine transaction per chunk: items 8-11, then 12-13')
  t.equal((await app.repository.quarantined()).length, 6)
})

engineTest(t, 'a batch answers per item even when part of it was not confirmed by the deadline, and a retry adds no rows', async (t, engine) => {
  const { app } = await buildApp(t, { REQUEST_DEADLINE_MS: '1500' }, engine)
  const done = events.createTenant('d-1', { name: 'done' }, { time })
  const stuck = events.createTenant('d-2', { name: 'stuck' }, { time })
  const record = app.repository.record.bind(app.repository)
  // The stuck event's write never ends (a hung database connection, as far as this request can tell).
  app.repository.record = async (event, plan) => event.id === stuck.id ? await new Promise(() => {}) : await record(event, plan)
  const batch = [done, stuck, { bad: 1 }, { bad: 2 }]
  const res = await postEvent(app, batch)
  t.equal(res.statusCode, 200, 'not 503: part of the batch was committed')
  const results = res.json().results
  t.same(results.map((r: { outcome: string }) => r.outcome), ['applied', 'unconfirmed', 'rejected', 'rejected'])
  t.same(results[1], { id: stuck.id, outcome: 'unconfirmed', error: { field: '', message: results[1].error.message } })
  t.match(results[1].error.message, /send it again/)
  app.repository.record = record
  const again = await postEvent(app, batch)
  t.same(again.json().results.map((r: { outcome: string }) => r.outcome), ['duplicate', 'applied', 'rejected', 'rejected'])
  const quarantined = await app.repository.quarantined()
  t.equal(quarantined.length, 2, 'the retry added no quarantine rows')
  t.same(quarantined.map(q => q.count), [2, 2], 'it counted the repeats')
})

engineTest(t, 'a batch of which nothing was committed answers 503, so that all of it is sent again', async (t, engine) => {
  const { app } = await buildApp(t, { REQUEST_DEADLINE_MS: '300' }, engine)
  app.repository.record = async () => await new Promise(() => {})
  const res = await postEvent(app, [events.createTenant('n-1', { name: 'x' }, { time })])
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable' })
  t.equal(res.headers['retry-after'], '5')

  const failing = await buildApp(t, {}, engine)
  failing.app.repository.quarantine = async () => { throw new Error('disk on fire') }
  const broken = await postEvent(failing.app, [{ bad: 1 }])
  t.equal(broken.statusCode, 500, 'an unexpected error with nothing committed is the request\'s error')
})

engineTest(t, '__proto__ and constructor keys in the outer body are judged per item: the siblings are applied', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const good = events.createTenant('p-1', { name: 'good' }, { time })
  const bad = JSON.stringify(events.createTenant('p-2', { name: 'bad' }, { time })).replace('"detail":{', '"detail":{"__proto__":{"polluted":true},')
  const ctor = JSON.stringify(events.createTenant('p-3', { name: 'ctor' }, { time })).replace('"detail":{', '"detail":{"constructor":{"prototype":{"polluted":true}},')
  const res = await postEvent(app, `[${JSON.stringify(good)},${bad},${ctor}]`)
  t.equal(res.statusCode, 200)
  const results = res.json().results
  t.same(results.map((r: { outcome: string }) => r.outcome), ['applied', 'rejected', 'rejected'])
  t.same(results[1].error, { field: '/detail/__proto__', message: 'body/detail/__proto__ is a property name this service refuses (__proto__)' })
  t.equal(results[2].error.field, '/detail/constructor')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing polluted')
  const kept = await app.repository.quarantined()
  t.equal(kept.length, 2)
  const raw = kept.find(k => k.field === '/detail/__proto__')!.raw as { detail: Record<string, unknown> }
  t.ok(Object.hasOwn(raw.detail, '__proto__'), 'kept as plain data')
  t.equal((await getJson(app, '/tenants/p-1')).json().name, 'good')

  const single = await postEvent(app, bad)
  t.equal(single.statusCode, 400)
  t.equal(single.json().field, '/detail/__proto__')
})

/** A createTenant event (inner JSON as objects) whose tenant attribute x is `raw` (JSON text), in both bodies. */
const withAttribute = (id: string, raw: string): string =>
  JSON.stringify(events.createTenant(id, { name: 'n', attributes: { x: '__X__' } }, { time, encoding: 'object' })).replaceAll('"__X__"', raw)

engineTest(t, 'values are stored exactly as received or refused: big numbers, unpaired surrogates, U+0000', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  t.equal((await postEvent(app, withAttribute('v-1', '1'))).statusCode, 200)
  const huge = await postEvent(app, withAttribute('v-1', '1e309'))
  t.equal(huge.statusCode, 400)
  t.same(huge.json(), {
    statusCode: 400,
    error: 'Bad Request',
    message: 'body/detail/event/request_body/attributes/x is a number outside what JSON can carry (beyond ±1.8e308)',
    field: '/detail/event/request_body/attributes/x'
  })
  t.same((await getJson(app, '/tenants/v-1')).json().attributes, { x: 1 }, 'the key was not deleted')

  const lone = JSON.stringify(events.createTenant('v-2', { name: 'a__S__b' }, { time, encoding: 'object' })).replaceAll('__S__', '\\ud800')
  const surrogate = await postEvent(app, lone)
  t.equal(surrogate.statusCode, 400)
  t.match(surrogate.json(), { field: '/detail/event/request_body/name', message: /unpaired UTF-16 surrogate/ })
  const inAttribute = await postEvent(app, withAttribute('v-3', '"\\udc00"'))
  t.match(inAttribute.json(), { statusCode: 400, field: '/detail/event/request_body/attributes/x' }, 'the same rule in attributes')
  const nul = await postEvent(app, withAttribute('v-4', '"a\\u0000"'))
  t.match(nul.json(), { statusCode: 400, message: /U\+0000/ })
  t.equal((await app.repository.quarantined()).length, 4, 'each is quarantined (with unstorable characters replaced)')

  const emoji = await postEvent(app, withAttribute('v-5', '"caf\u00e9 \ud83d\ude00"'))
  t.equal(emoji.statusCode, 200)
  t.equal((await getJson(app, '/tenants/v-5')).json().attributes.x, 'caf\u00e9 \ud83d\ude00', 'valid text is kept exactly')
})

engineTest(t, 'charset other than UTF-8, Content-Encoding other than identity, and bytes that are not UTF-8 are refused', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const event = JSON.stringify(events.createTenant('c-1', { name: 'café' }, { time }))
  const latin1 = await postEvent(app, event, { 'content-type': 'application/json; charset=latin1' })
  t.equal(latin1.statusCode, 415)
  t.same(latin1.json(), { statusCode: 415, error: 'Unsupported Media Type', message: 'charset latin1 is not supported: JSON bodies must be UTF-8' })
  const gzip = await postEvent(app, event, { 'content-encoding': 'gzip' })
  t.equal(gzip.statusCode, 415)
  t.same(gzip.json(), { statusCode: 415, error: 'Unsupported Media Type', message: 'Content-Encoding gzip is not supported: send the body uncompressed (identity)' })
  t.equal((await postEvent(app, event, { 'content-type': 'application/json; charset="UTF8"' })).statusCode, 200, 'utf8 spelled otherwise')
  t.equal((await postEvent(app, event, { 'content-encoding': 'identity', 'content-type': 'application/json' })).statusCode, 200, 'identity and no charset')
  const bytes = Buffer.from(event.replace('café', 'caf__'), 'utf8')
  bytes[bytes.indexOf('caf__') + 3] = 0xe9 // latin1 é: not UTF-8
  const invalid = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'application/json', 'x-api-key': 'test-key-0123456789abcdef' }, payload: bytes })
  t.equal(invalid.statusCode, 400)
  t.same(invalid.json(), { statusCode: 400, error: 'Bad Request', message: 'Body is not valid UTF-8' })
  t.equal((await getJson(app, '/tenants/c-1')).json().name, 'café')
})

engineTest(t, 'an event dated beyond MAX_FUTURE_SKEW_MS is refused and quarantined, never applied', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
  t.equal((await postEvent(app, events.createTenant('f-1', { name: 'real' }, { time }))).statusCode, 200)
  const future = events.updateTenant('f-1', { name: 'from 9999' }, { time: '9999-12-31T23:59:59Z' })
  const res = await postEvent(app, future)
  t.equal(res.statusCode, 400)
  t.equal(res.json().field, '/time')
  t.match(res.json().message, /ahead of this host's clock \(more than MAX_FUTURE_SKEW_MS, 900000 ms\)/)
  const tomorrow = events.deleteTenant('f-1', { time: iso(Date.now() + 86_400_000) })
  const batch = await postEvent(app, [tomorrow, events.updateTenant('f-1', { name: 'now' }, { time: iso(Date.now() + 60_000) })])
  t.same(batch.json().results.map((r: { outcome: string }) => r.outcome), ['rejected', 'applied'], 'within the skew is applied')
  t.equal((await getJson(app, '/tenants/f-1')).json().name, 'now')
  t.equal((await app.repository.quarantined()).length, 2)

  const strict = await buildApp(t, { MAX_FUTURE_SKEW_MS: '0' }, engine)
  t.equal((await postEvent(strict.app, events.createTenant('f-2', { name: 'x' }, { time: iso(Date.now() + 5_000) }))).statusCode, 400, 'MAX_FUTURE_SKEW_MS is configurable')
})

engineTest(t, 'impossible calendar dates and times are refused, not rolled over', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  for (const [value, message] of [
    ['2026-02-30T00:00:00Z', 'has no day 30 in 2026-02'],
    ['2026-02-29T00:00:00Z', 'has no day 29 in 2026-02'],
    ['2026-04-31T00:00:00Z', 'has no day 31 in 2026-04'],
    ['2026-13-01T00:00:00Z', 'has no month 13'],
    ['2026-00-10T00:00:00Z', 'has no month 00'],
    ['2026-01-00T00:00:00Z', 'has no day 00 in 2026-01'],
    ['2026-05-19T24:00:00Z', 'has no time of day 24:00:00'],
    ['2026-05-19T23:60:00Z', 'has no time of day 23:60:00'],
    ['2026-05-19T23:59:60Z', 'has no time of day 23:59:60'],
    ['2026-05-19T02:22:58+24:00', 'has no UTC offset +24:00'],
    ['1969-12-31T23:59:59Z', 'must be a valid instant after 1970']
  ]) {
    const res = await postEvent(app, events.createTenant('cal', { name: 'x' }, { time: value }))
    t.equal(res.statusCode, 400, value)
    t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: `body/time ${message}`, field: '/time' }, value)
  }
  for (const value of ['2024-02-29T00:00:00Z', '2000-02-29T12:00:00.123+09:00', '2026-05-19T23:59:59-05:30']) {
    t.equal((await postEvent(app, events.createTenant(`ok-${value}`, { name: 'x' }, { time: value }))).statusCode, 200, value)
  }
})

engineTest(t, 'ids longer than the read API accepts are refused at intake; reads of long ids keep the error shape', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const long = 'x'.repeat(257)
  const fromUri = await postEvent(app, events.updateTenant(long, { name: 'x' }, { time }))
  t.same(fromUri.json(), {
    statusCode: 400,
    error: 'Bad Request',
    message: 'body/detail/event/uri names a tenant_id longer than 256 characters (the longest id this service keeps)',
    field: '/detail/event/uri'
  })
  const fromBody = await postEvent(app, events.createTenant(long, { name: 'x' }, { time }))
  t.match(fromBody.json(), { statusCode: 400, field: '/detail/event/response_body/id' })
  const role = await postEvent(app, events.createRole(long, 'x', { time }))
  t.match(role.json(), { statusCode: 400, field: '/detail/event/request_body/role_name' })

  const max = 'é'.repeat(256)
  t.equal((await postEvent(app, events.createTenant(max, { name: 'longest' }, { time }))).statusCode, 200)
  t.equal((await getJson(app, `/tenants/${encodeURIComponent(max)}`)).json().name, 'longest', 'the longest id is read back')
  const tooLong = await getJson(app, `/tenants/${encodeURIComponent('é'.repeat(257))}`)
  t.equal(tooLong.statusCode, 400)
  t.match(tooLong.json(), { statusCode: 400, error: 'Bad Request', message: /params\/id/ })
})

engineTest(t, 'an event_type longer than 256 characters is refused and quarantined on both engines', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const huge = makeEvent({ eventType: `huge-${'t'.repeat(1_900_000)}`, method: 'POST', uri: '/v1/x', time, response: {} })
  const res = await postEvent(app, huge)
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: 'body/detail/event_type Expected string length less or equal to 256', field: '/detail/event_type' })
  t.same((await app.repository.quarantined()).map(q => q.field), ['/detail/event_type'], 'kept for the operator')
  const batch = await postEvent(app, [makeEvent({ eventType: 'x'.repeat(257), method: 'POST', uri: '/v1/x', time, response: {} }), events.createTenant('after-long-type', { name: 'x' }, { time })])
  t.same(batch.json().results.map((r: { outcome: string }) => r.outcome), ['rejected', 'applied'], 'in a batch only that item is refused')
  const longest = await postEvent(app, makeEvent({ eventType: 'y'.repeat(256), method: 'POST', uri: '/v1/x', time, response: {} }))
  t.equal(longest.statusCode, 200, 'the longest type is taken')
})

engineTest(t, 'the quarantine keeps the same content once, counts repeats, and stops at its caps', async (t, engine) => {
  const { app, logs } = await buildApp(t, { QUARANTINE_MAX_ROWS: '2' }, engine)
  const same = { ...events.createTenant('q-1', { name: 'x' }, { time }), time: 'not a time' }
  for (let i = 0; i < 3; i++) t.equal((await postEvent(app, same)).statusCode, 400)
  t.same((await app.repository.quarantined()).map(q => q.count), [3], 'three deliveries, one row')
  t.equal((await postEvent(app, { other: 1 })).statusCode, 400)
  const full = await postEvent(app, { other: 2 })
  t.equal(full.statusCode, 400, 'at the cap an invalid event still answers 400 (EventBridge keeps it in its dead-letter queue)')
  t.equal((await app.repository.quarantined()).length, 2, 'the third distinct content was not kept')
  t.match(logs(), /NOT quarantined: the quarantine is full/)
  t.equal((await postEvent(app, same)).statusCode, 400)
  t.same((await app.repository.quarantined()).map(q => q.count), [4, 1], 'a repeat is still counted at the cap')
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, 'receiver_quarantine_items_total{result="kept"} 2')
  t.match(metrics, 'receiver_quarantine_items_total{result="repeat"} 3')
  t.match(metrics, 'receiver_quarantine_items_total{result="not_kept"} 1')
  t.match(metrics, 'receiver_quarantine_events 2')
  t.match(metrics, /receiver_quarantine_bytes [1-9]\d*/)

  const bytes = await buildApp(t, { QUARANTINE_MAX_BYTES: '1024' }, engine)
  t.equal((await postEvent(bytes.app, { pad: 'x'.repeat(2000) })).statusCode, 400)
  t.equal((await postEvent(bytes.app, { pad: 'small' })).statusCode, 400)
  t.same((await bytes.app.repository.quarantined()).map(q => (q.raw as { pad: string }).pad), ['small'], 'QUARANTINE_MAX_BYTES counts the bytes of raw and original')
  t.same(await bytes.app.repository.quarantineSize(), { rows: 1, bytes: 2 * Buffer.byteLength('{"pad":"small"}') }, 'the copy shown and the text as received')
})

engineTest(t, 'a batch with the same invalid content twice keeps one row counted twice', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const res = await postEvent(app, [{ same: 1 }, { same: 1 }, { same: 2 }])
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), ['rejected', 'rejected', 'rejected'])
  t.same((await app.repository.quarantined()).map(q => q.count), [2, 1])
})

engineTest(t, 'quarantine rows are pruned by when they were last seen', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const day = 86_400_000
  const now = Date.now()
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'old', raw: { n: 1 } }], new Date(now - 100 * day))
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'seen again', raw: { n: 2 } }], new Date(now - 100 * day))
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'seen again', raw: { n: 2 } }], new Date(now - day))
  t.equal(await app.repository.pruneQuarantine(new Date(now - 90 * day), 1), 1)
  t.same((await app.repository.quarantined()).map(q => q.error), ['seen again'], 'a repeat keeps its row')
})

t.test('unknown event types count under one label value', async t => {
  const { app } = await buildApp(t)
  for (let i = 0; i < 20; i++) await postEvent(app, { detail: { event_type: `made_up_${i}` } })
  await postEvent(app, { detail: { event_type: 'create_tenant' } })
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, 'receiver_events_received_total{event_type="other",outcome="rejected"} 20')
  t.match(metrics, 'receiver_events_received_total{event_type="create_tenant",outcome="rejected"} 1', 'known types keep their label')
  t.notMatch(metrics, 'made_up_')
})

engineTest(t, 'a batch whose quarantine write or one event\'s write fails after others committed answers per item', async (t, engine) => {
  const { app } = await buildApp(t, { REQUEST_DEADLINE_MS: '4000', BATCH_MAX_EVENTS: '2' }, engine)
  // A fresh PostgreSQL schema's first transaction can miss TRANSACTION_MAX_WAIT_MS on a busy machine (503).
  const warm = events.createTenant('u-0', { name: 'warm' }, { time })
  for (let i = 0; i < 5 && (await postEvent(app, warm)).statusCode !== 200; i++);
  const ok = events.createTenant('u-1', { name: 'ok' }, { time })
  const failing = events.createTenant('u-2', { name: 'fails' }, { time })
  const record = app.repository.record.bind(app.repository)
  app.repository.record = async (event, plan) => {
    if (event.id === failing.id) throw new Error('write failed')
    return await record(event, plan)
  }
  const quarantine = app.repository.quarantine.bind(app.repository)
  app.repository.quarantine = async () => await new Promise(() => {})
  const res = await postEvent(app, [ok, failing, { bad: 1 }, events.createTenant('u-3', { name: 'later' }, { time })])
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), ['applied', 'unconfirmed', 'unconfirmed', 'unconfirmed'],
    'the hung quarantine write ends the batch at the deadline; a failed write is unconfirmed')
  app.repository.quarantine = quarantine
  app.repository.record = record

  const capped = await buildApp(t, { QUARANTINE_MAX_ROWS: '1' }, engine)
  t.equal((await postEvent(capped.app, { first: 1 })).statusCode, 400)
  const both = await postEvent(capped.app, [{ same: 1 }, { same: 1 }])
  t.equal(both.statusCode, 200, both.body)
  t.same(both.json().results.map((r: { outcome: string }) => r.outcome), ['rejected', 'rejected'])
  t.match((await capped.app.inject('/metrics')).body, 'receiver_quarantine_items_total{result="not_kept"} 2', 'both copies were not kept')
})

t.test('a POST without a body is refused and kept as null', async t => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'POST', url: '/events', headers: { 'x-api-key': 'test-key-0123456789abcdef' } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, field: '' })
  t.same((await app.repository.quarantined()).map(q => q.raw), [null])
})

engineTest(t, 'an event of more than MAX_EVENT_VALUES values is refused before parsing, alone (400) or as one item of a batch, and quarantined as a description', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const many = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_EVENT_VALUES + 1 }, (_, i) => [`k${i}`, i])))
  const alone = await postEvent(app, many)
  t.equal(alone.statusCode, 400)
  t.same(alone.json(), {
    statusCode: 400,
    error: 'Bad Request',
    message: `body holds ${MAX_EVENT_VALUES + 1} values (object members and array elements): more than the ${MAX_EVENT_VALUES} an event may hold (MAX_EVENT_VALUES); refused before parsing`,
    field: ''
  })
  const [kept] = await app.repository.quarantined()
  t.same(kept.raw, {
    not_parsed: 'more values than MAX_EVENT_VALUES',
    bytes: Buffer.byteLength(many),
    values: MAX_EVENT_VALUES + 1,
    sha256: createHash('sha256').update(many).digest('hex'),
    excerpt: many.slice(0, EXCERPT_BYTES)
  })
  t.equal((await postEvent(app, many)).statusCode, 400)
  t.same((await app.repository.quarantined()).map(q => q.count), [2], 'the same bytes again are a repeat')

  const secret = JSON.stringify({ password: 'hunter2-hunter2', ...JSON.parse(many) })
  const good = events.createTenant('o-1', { name: 'good' }, { time })
  const res = await postEvent(app, `[${JSON.stringify(good)},${secret}]`)
  t.equal(res.statusCode, 200)
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), ['applied', 'rejected'], 'the sibling is applied')
  t.match(res.json().results[1].error, { field: '', message: /refused before parsing$/ })
  const excerpt = (await app.repository.quarantined()).map(q => (q.raw as { excerpt: string }).excerpt)[1]
  t.match(excerpt, /^\[REDACTED\] \(1024 characters that mention a secret\)$/, 'an excerpt that mentions a secret is not kept')
  t.equal((await getJson(app, '/tenants/o-1')).json().name, 'good')
})

engineTest(t, 'more than MAX_ATTRIBUTES attributes or MAX_ROLE_NAMES role names are refused; a batch of heavy events is written a few at a time', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const attributes = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, i]))
  const over = await postEvent(app, events.createTenant('h-0', { name: 'h', attributes: attributes(MAX_ATTRIBUTES + 1) }, { time }))
  t.equal(over.statusCode, 400)
  t.match(over.json(), { field: /\/attributes$/, message: new RegExp(`no more than ${MAX_ATTRIBUTES} properties`) })
  const roles = events.createTenantUserRoles('t1', 'u1', 1, Array.from({ length: MAX_ROLE_NAMES + 1 }, (_, i) => `r${i}`), { time })
  t.match((await postEvent(app, roles)).json(), { statusCode: 400, field: '/detail/event/request_body/role_names' })

  // Each of these writes MAX_ATTRIBUTES + 2 rows: two together would pass WRITE_WINDOW_ROWS.
  let inFlight = 0
  let most = 0
  const record = app.repository.record.bind(app.repository)
  app.repository.record = async (event, plan) => {
    most = Math.max(most, ++inFlight)
    try { return await record(event, plan) } finally { inFlight-- }
  }
  const heavy = Array.from({ length: 3 }, (_, i) => events.createTenant(`h-${i + 1}`, { name: 'h', attributes: attributes(MAX_ATTRIBUTES) }, { time }))
  const light = Array.from({ length: 5 }, (_, i) => events.createTenant(`l-${i + 1}`, { name: 'l' }, { time }))
  const res = await postEvent(app, heavy)
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), ['applied', 'applied', 'applied'])
  t.equal(most, 1, 'one heavy event in the write path at a time')
  t.equal(Object.keys((await getJson(app, '/tenants/h-3')).json().attributes).length, MAX_ATTRIBUTES)
  most = 0
  t.equal((await postEvent(app, light)).statusCode, 200)
  t.equal(most, 5, 'light events are not held back')
})
