import t from 'tap'
import { engineTest } from '../helpers/engines.js'
import { buildApp, deliver, getJson, postEvent } from '../helpers/app.js'
import { events, makeEvent, sample } from '../helpers/events.js'

const time = '2026-05-19T02:22:58Z'

engineTest(t, 'a batch answers per event, in order; an invalid item is quarantined and does not block the others', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const first = events.createTenant('b-t1', { name: 'one' }, { time })
  const broken = events.updateTenant('b-t1', { name: 'x' }, { time })
  const inner = JSON.parse(broken.detail.event)
  inner.request_body = '{"name": 5, "password": "Very-Secret-1"'
  broken.detail.event = JSON.stringify(inner)
  const second = events.createUser('b-u1', { email: 'b@example.com' }, { time })

  const res = await postEvent(app, [first, broken, 42, second, first])
  t.equal(res.statusCode, 200)
  t.same(res.json().results, [
    { id: first.id, outcome: 'applied' },
    { id: broken.id, outcome: 'rejected', error: { field: '/detail/event/request_body', message: res.json().results[1].error.message } },
    { id: null, outcome: 'rejected', error: { field: '', message: 'body Expected object' } },
    { id: second.id, outcome: 'applied' },
    { id: first.id, outcome: 'duplicate' }
  ])
  t.match(res.json().results[1].error.message, /^body\/detail\/event\/request_body is not valid JSON/)
  t.equal((await getJson(app, '/tenants/b-t1')).json().name, 'one')
  t.equal((await getJson(app, '/users/b-u1')).statusCode, 200)

  // The items of a batch are taken concurrently: quarantine order is not batch order.
  const quarantined = (await app.repository.quarantined()).sort((a, b) => a.field.localeCompare(b.field))
  t.equal(quarantined.length, 2)
  t.same(quarantined[0], { envelopeId: null, field: '', error: 'Expected object', raw: 42, original: '42', replayRefusal: null, count: 1 })
  t.match(quarantined[1], { envelopeId: broken.id, field: '/detail/event/request_body' })
  const stored = JSON.stringify(quarantined)
  t.notOk(stored.includes('Very-Secret-1'), 'a secret inside unparsable text is not stored')
  t.notOk(stored.includes('saasus-secret-api-key-sample'), 'nor the api_key')
  t.match(stored, 'REDACTED')

  t.same((await postEvent(app, [])).json(), { results: [] }, 'an empty batch is an empty answer')
})

engineTest(t, 'a single invalid event keeps the 400 answer and is quarantined too', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const bad: Record<string, any> = { ...sample('create_tenant'), time: 'not a time' }
  const res = await postEvent(app, bad)
  t.equal(res.statusCode, 400)
  t.match(res.json(), { field: '/time' })
  const [entry] = await app.repository.quarantined()
  t.match(entry, { envelopeId: bad.id, field: '/time' })
  t.equal((entry.raw as any).detail.event.includes('sample_api_key_sample'), false, 'redacted inside the JSON string')
  t.equal((await getJson(app, `/events/${bad.id}`)).statusCode, 404, 'not in the inbox: a corrected resend is applied')
  t.equal(await deliver(app, sample('create_tenant')), 'applied')
})

engineTest(t, 'the same SaaSus log_id under a new envelope id is a duplicate', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const original = events.createTenant('l-t1', { name: 'first' }, { time, logId: 'log-1' })
  const retry = events.createTenant('l-t1', { name: 'retried' }, { time: '2026-05-19T02:23:00Z', logId: 'log-1' })
  t.not(original.id, retry.id)
  t.equal(await deliver(app, original), 'applied')
  t.equal(await deliver(app, retry), 'duplicate')
  t.equal((await getJson(app, '/tenants/l-t1')).json().name, 'first')
  t.equal((await getJson(app, `/events/${retry.id}`)).statusCode, 404)
})

engineTest(t, 'every other call is recorded as ignored and acknowledged', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const others = [
    makeEvent({ eventType: 'update_auth_info', method: 'PUT', uri: '/v1/auth/auth-info', time, request: { callback_url: 'https://x' } }),
    makeEvent({ eventType: 'update_mfa', method: 'PATCH', uri: '/v1/auth/users/u1/mfa/preference', time, request: { enabled: true } }),
    makeEvent({ eventType: 'create_invitation', method: 'POST', uri: '/v1/auth/tenants/t1/invitations', time, request: { email: 'a@x', access_token: 'tok-secret' } }),
    makeEvent({ eventType: 'sign_up', method: 'POST', uri: '/v1/auth/sign-up', time, request: { email: 'a@x' } }),
    makeEvent({ eventType: 'create_metering_unit', method: 'POST', uri: '/v1/pricing/metering/units', time, request: { a: 1 } }),
    makeEvent({ eventType: 'something_new', method: 'POST', uri: '/v9/unknown', time })
  ]
  const res = await postEvent(app, others)
  t.same(res.json().results.map((r: { outcome: string }) => r.outcome), others.map(() => 'ignored'))
  const recorded = (await getJson(app, `/events/${others[2].id}`)).json()
  t.equal(recorded.event.detail.event.request_body.access_token, '[REDACTED]')
})
