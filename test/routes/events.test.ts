import t from 'tap'
import { API_KEY, buildApp, getJson, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events, makeEvent, sample } from '../helpers/events.js'

const TENANT_ID = 'fc84307d-e285-4854-8c16-21a6871a2a13'
const USER_ID = '66ccc133-67ea-4be4-9c1d-7bddf325a790'

engineTest(t, 'the two SaaSus samples are applied, and readable back', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const tenant = sample('create_tenant')
  let res = await postEvent(app, tenant)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { results: [{ id: tenant.id, outcome: 'applied' }] })

  res = await postEvent(app, sample('create_saas_user'))
  t.same(res.json().results[0].outcome, 'applied')

  res = await getJson(app, `/tenants/${TENANT_ID}`)
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    id: TENANT_ID,
    name: 'AmazonEventBridgeTest',
    attributes: { memo: 'AmazonEventBridgeTest' },
    back_office_staff_email: 'AmazonEventBridgeTest@example.com',
    plan_id: null,
    plan_histories: [],
    next_plan: null,
    billing_info: null,
    users: [],
    updated_at: '2026-05-19T02:22:58.000Z'
  })

  res = await getJson(app, `/users/${USER_ID}`)
  t.same(res.json(), {
    id: USER_ID,
    email: 'AmazonEventBridgeTest@example.com',
    sign_in_id: '',
    attributes: {},
    tenants: [],
    updated_at: '2026-05-19T01:55:23.000Z'
  })

  res = await getJson(app, `/events/${tenant.id}`)
  t.equal(res.statusCode, 200)
  const recorded = res.json()
  t.match(recorded, {
    id: tenant.id,
    event_type: 'create_tenant',
    time: '2026-05-19T02:22:58.000Z',
    log_id: '5270362b-fb34-4b71-bb4c-f5bfaf24415d',
    trace_id: '6aae5af4-7ee4-4de3-bd1d-5ebf13767cbf',
    uri: '/v1/auth/tenants',
    method: 'POST',
    http_status: 201,
    outcome: 'applied'
  })
  t.equal(recorded.event.detail.event.api_key, '[REDACTED]', 'the SaaS api_key is not stored')
  t.equal(recorded.event.detail.event.response_body.id, TENANT_ID, 'inner JSON is stored decoded')
})

engineTest(t, 'a second delivery of the same envelope id is a duplicate and changes nothing', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const time = '2026-05-19T02:22:58Z'
  const create = events.createTenant('t1', { name: 'first' }, { time })
  t.equal((await postEvent(app, create)).json().results[0].outcome, 'applied')
  // Same id, different content: a retry is never re-applied.
  const again = { ...create, detail: events.createTenant('t1', { name: 'changed' }, { time }).detail }
  t.equal((await postEvent(app, again)).json().results[0].outcome, 'duplicate')
  t.equal((await getJson(app, '/tenants/t1')).json().name, 'first')
})

engineTest(t, 'detail.event and the bodies may be JSON strings or objects', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const res = await postEvent(app, events.createTenant('t-obj', { name: 'object encoded' }, { time: '2026-05-19T02:22:58Z', encoding: 'object' }))
  t.equal(res.json().results[0].outcome, 'applied')
  t.equal((await getJson(app, '/tenants/t-obj')).json().name, 'object encoded')

  // Mixed: detail.event an object whose bodies are still strings.
  const mixed = sample('create_tenant')
  mixed.detail.event = JSON.parse(mixed.detail.event)
  t.equal((await postEvent(app, mixed)).json().results[0].outcome, 'applied')
})

engineTest(t, 'authentication comes first, with 401 for a missing or wrong key', async (t, engine) => {
  const { app, logs } = await buildApp(t, {}, engine)
  for (const headers of [{ 'x-api-key': '' }, { 'x-api-key': 'wrong-key-0123456789' }, { 'x-api-key': API_KEY + 'x' }, { 'x-api-key': API_KEY.slice(0, -1) }]) {
    const res = await postEvent(app, sample('create_tenant'), headers)
    t.equal(res.statusCode, 401, `key ${JSON.stringify(headers['x-api-key'])}`)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized' })
  }
  const missing = await app.inject({ method: 'POST', url: '/events', payload: sample('create_tenant') })
  t.equal(missing.statusCode, 401)
  // Before the body is looked at: an unauthenticated oversize or non-JSON body is still 401.
  const big = await app.inject({ method: 'POST', url: '/events', headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(3 * 1024 * 1024) })
  t.equal(big.statusCode, 401)
  for (const url of ['/tenants/x', '/users/x', '/events/x']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url)
  }
  t.notOk(logs().includes(API_KEY), 'the configured key never reaches the logs')
  t.equal((await getJson(app, `/events/${sample('create_tenant').id}`)).statusCode, 404, 'nothing was recorded')
})

engineTest(t, 'several keys are accepted at once and the header name is configurable', async (t, engine) => {
  const other = 'second-key-abcdefghijklmnop'
  const { app } = await buildApp(t, { API_KEYS: `${API_KEY}, ${other}`, API_KEY_HEADER: 'X-SaaSus-Key' })
  t.equal((await postEvent(app, sample('create_tenant'), { 'x-saasus-key': other })).statusCode, 200)
  t.equal((await postEvent(app, sample('create_saas_user'), { 'x-saasus-key': API_KEY })).statusCode, 200)
  t.equal((await postEvent(app, sample('create_saas_user'), { 'x-saasus-key': 'nope-nope-nope-nope' })).statusCode, 401)
  t.equal((await postEvent(app, sample('create_saas_user'))).statusCode, 401, 'the default header name no longer counts')
})

engineTest(t, 'bad input answers 400, 413 or 415 with a JSON error naming the field', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const cases: Array<[string, unknown, number, string | undefined]> = [
    ['not JSON', '{"id":', 400, undefined],
    ['a number', '42', 400, ''],
    ['no id', { ...sample('create_tenant'), id: undefined }, 400, '/id'],
    ['id of the wrong type', { ...sample('create_tenant'), id: 42 }, 400, '/id'],
    ['bad time', { ...sample('create_tenant'), time: 'yesterday' }, 400, '/time'],
    ['unparsable detail.event', { ...sample('create_tenant'), detail: { event_type: 'x', event: '{nope' } }, 400, '/detail/event'],
    ['detail.event of the wrong type', { ...sample('create_tenant'), detail: { event_type: 'x', event: 12 } }, 400, '/detail/event'],
    ['inner event without uri', makeEvent({ eventType: 'x', method: 'POST', uri: '', time: '2026-05-19T02:22:58Z' }), 400, '/detail/event/uri'],
    ['unparsable request_body', makeEventWith({ request_body: '{x' }), 400, '/detail/event/request_body'],
    ['unparsable response_body', makeEventWith({ response_body: 'nope' }), 400, '/detail/event/response_body'],
    ['http_status not a status', makeEventWith({ http_status: 'OK' }), 400, '/detail/event/http_status'],
    ['create_tenant without the new id', events.createTenant('', { name: 'x' }, { time: '2026-05-19T02:22:58Z' }), 400, '/detail/event/response_body/id'],
    ['update_tenant with a wrong type', events.updateTenant('t1', { name: 7 as unknown as string }, { time: '2026-05-19T02:22:58Z' }), 400, '/detail/event/request_body/name'],
    ['__proto__ in an inner body', makeEventWith({ request_body: '{"__proto__":{"admin":true}}' }), 400, '/detail/event/request_body/__proto__']
  ]
  for (const [name, body, status, field] of cases) {
    const res = await postEvent(app, body)
    t.equal(res.statusCode, status, name)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8', `${name}: JSON error`)
    const error = res.json()
    t.equal(error.statusCode, status, `${name}: status in body`)
    t.type(error.message, 'string')
    if (field !== undefined) t.equal(error.field, field, `${name}: field`)
  }

  const text = await postEvent(app, 'hello', { 'content-type': 'text/plain' })
  t.equal(text.statusCode, 415)
  t.equal(text.json().statusCode, 415)
  const xml = await postEvent(app, '<a/>', { 'content-type': 'application/xml' })
  t.equal(xml.statusCode, 415)

  const padded = { ...sample('create_tenant'), padding: 'x'.repeat(2 * 1024 * 1024) }
  const large = await postEvent(app, padded)
  t.equal(large.statusCode, 413)
  t.equal(large.json().statusCode, 413)

  const empty = await postEvent(app, '')
  t.equal(empty.statusCode, 400, 'empty body')
})

engineTest(t, 'a 1 MiB event (EventBridge\'s maximum) is accepted under the default limit', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  // The attributes travel twice (request and response body), so half a MiB each makes a 1 MiB event.
  const blob = 'x'.repeat(512 * 1024)
  const big = JSON.stringify(events.createTenant('t-big', { name: 'big', attributes: { blob } }, { time: '2026-05-19T02:22:58Z' }))
  t.ok(big.length > 1024 * 1024, `event is ${big.length} bytes`)
  const res = await postEvent(app, big)
  t.equal(res.statusCode, 200)
  t.equal((await getJson(app, '/tenants/t-big')).json().attributes.blob, blob)
})

engineTest(t, 'BODY_LIMIT is configurable', async (t, engine) => {
  const { app } = await buildApp(t, { BODY_LIMIT: '2048' }, engine)
  t.equal((await postEvent(app, sample('create_tenant'))).statusCode, 200)
  t.equal((await postEvent(app, { ...sample('create_saas_user'), pad: 'x'.repeat(2048) })).statusCode, 413)
})

engineTest(t, 'failed calls and calls this version does not project are recorded as ignored', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const time = '2026-05-19T02:22:58Z'
  const failed = events.createTenant('t-failed', { name: 'never' }, { time, httpStatus: '400', response: { message: 'bad request' } })
  t.equal((await postEvent(app, failed)).json().results[0].outcome, 'ignored')
  t.equal((await getJson(app, '/tenants/t-failed')).statusCode, 404)
  t.equal((await getJson(app, `/events/${failed.id}`)).json().outcome, 'ignored')

  const unknown = makeEvent({ eventType: 'update_saas_settings', method: 'PATCH', uri: '/v1/auth/settings', time, request: { x: 1 } })
  t.equal((await postEvent(app, unknown)).json().results[0].outcome, 'ignored')
  const pricing = makeEvent({ eventType: 'create_pricing_unit', method: 'POST', uri: '/v1/pricing/units', time, request: { a: 1 } })
  t.equal((await postEvent(app, pricing)).json().results[0].outcome, 'ignored')
  // A known call that changes no state: recorded, acknowledged.
  const password = events.updateUserPassword('u1', { time })
  t.equal((await postEvent(app, password)).json().results[0].outcome, 'ignored')
  t.equal((await postEvent(app, password)).json().results[0].outcome, 'duplicate')
})

engineTest(t, 'reads answer 404 for unknown ids and for deleted rows', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  for (const url of ['/tenants/nope', '/users/nope', '/events/nope']) {
    const res = await getJson(app, url)
    t.equal(res.statusCode, 404, url)
    t.match(res.json(), { statusCode: 404, error: 'Not Found' })
  }
  const unknownRoute = await getJson(app, '/nothing-here')
  t.equal(unknownRoute.statusCode, 404)
})

function makeEventWith (inner: Record<string, unknown>): Record<string, any> {
  const event = sample('create_tenant')
  event.detail.event = JSON.stringify({ ...JSON.parse(event.detail.event), ...inner })
  return event
}
