import t from 'tap'
import { decodeEvent } from '../../src/events/decode.js'
import { parseEvent } from '../../src/events/parse.js'
import { makeEvent, sample } from '../helpers/events.js'

t.test('the create_tenant sample decodes', async t => {
  const result = decodeEvent(sample('create_tenant'))
  if (!result.ok) throw new Error(JSON.stringify(result.problem))
  const e = result.event
  t.equal(e.id, '71e793dd-3177-ac6b-7baf-ae54615a3bb3')
  t.equal(e.eventType, 'create_tenant')
  t.same(e.time, new Date('2026-05-19T02:22:58Z'))
  t.equal(e.version, '001779157378000:0:71e793dd-3177-ac6b-7baf-ae54615a3bb3')
  t.equal(e.httpStatus, 201)
  t.equal(e.method, 'POST')
  t.equal(e.logId, '5270362b-fb34-4b71-bb4c-f5bfaf24415d')
  t.equal(e.traceId, '6aae5af4-7ee4-4de3-bd1d-5ebf13767cbf')
  t.same(e.operation, { name: 'create_tenant', params: {} })
  t.match(e.responseBody, { id: 'fc84307d-e285-4854-8c16-21a6871a2a13', name: 'AmazonEventBridgeTest' })
  t.notOk(JSON.stringify(e.redacted).includes('sample_api_key_sample'), 'redacted copy has no api_key')
})

t.test('empty bodies in each form decode to null', async t => {
  for (const body of ['', '  ', 'null', null, undefined]) {
    const event = makeEvent({ eventType: 'delete_tenant', method: 'DELETE', uri: '/v1/auth/tenants/t1', time: '2026-05-19T02:22:58Z', encoding: 'object' })
    event.detail.event.request_body = body
    event.detail.event.response_body = body
    const result = decodeEvent(event)
    t.ok(result.ok, `body ${JSON.stringify(body)}`)
    if (result.ok) t.same([result.event.requestBody, result.event.responseBody], [null, null])
  }
  const withObject = makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/users/u/email', time: '2026-05-19T02:22:58Z', response: {} })
  const result = decodeEvent(withObject)
  t.ok(result.ok && typeof result.event.responseBody === 'object')
})

t.test('problems name the field', async t => {
  const base = sample('create_saas_user')
  const cases: Array<[unknown, string]> = [
    [null, ''],
    [{ ...base, time: '1969-12-31T23:59:59Z' }, '/time'],
    [{ ...base, detail: { ...base.detail, event_type: '' } }, '/detail/event_type'],
    [{ ...base, detail: { ...base.detail, event: '[]' } }, '/detail/event'],
    [{ ...base, detail: { ...base.detail, event: '' } }, '/detail/event']
  ]
  for (const [body, field] of cases) {
    const result = decodeEvent(body)
    t.notOk(result.ok)
    if (!result.ok) t.equal(result.problem.field, field, JSON.stringify(body).slice(0, 60))
  }
})

t.test('parseEvent plans the changes an event asks for', async t => {
  const parsed = parseEvent(sample('create_saas_user'))
  if (!parsed.ok) throw new Error('sample must parse')
  const id = '66ccc133-67ea-4be4-9c1d-7bddf325a790'
  const version = parsed.event.version
  t.same(parsed.plan, {
    kind: 'changes',
    changes: [
      { kind: 'register', entity: 'user', key: { id }, version, live: true, fields: { email: 'AmazonEventBridgeTest@example.com', sign_in_id: '' } },
      { kind: 'attributes', scope: 'user', tenantId: '', userId: id, version, values: {} }
    ]
  })
  const bad = sample('create_saas_user')
  bad.detail.event = JSON.stringify({ ...JSON.parse(bad.detail.event), response_body: '{"email":"x"}' })
  const refused = parseEvent(bad)
  t.notOk(refused.ok)
  if (!refused.ok) t.equal(refused.problem.field, '/detail/event/response_body/id')
})

t.test('with maxValues, an event holding more values, with those of its nested JSON, is refused where the budget ran out', async t => {
  const attributes = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
  const time = '2026-05-19T02:22:58Z'
  const asStrings = makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', time, request: { name: 'n', attributes: attributes(60) }, response: { id: 't1', name: 'n' } })
  t.ok(decodeEvent(asStrings).ok, 'no limit without maxValues (rebuilds of stored events)')
  t.ok(decodeEvent(asStrings, undefined, 200).ok, 'within the budget')
  t.same(decodeEvent(asStrings, undefined, 60), {
    ok: false,
    problem: {
      field: '/detail/event/request_body',
      message: 'holds more than 60 values (object members and array elements, with the JSON nested in its strings): more than an event may hold (MAX_EVENT_VALUES)'
    }
  }, 'the request body, a JSON string, is counted before it is parsed')
  t.match(decodeEvent(asStrings, undefined, 20), { ok: false, problem: { field: '/detail/event' } }, 'detail.event too')
  t.match(decodeEvent(asStrings, undefined, 5), { ok: false, problem: { field: '' } }, 'and the envelope')
  const asObjects = makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', time, request: { name: 'n', attributes: attributes(60) }, response: { id: 't1', name: 'n' }, encoding: 'object' })
  t.match(decodeEvent(asObjects, undefined, 60), { ok: false, problem: { field: '', message: /more than 60 values/ } }, 'nested objects are the envelope\'s values')
  t.match(parseEvent(asObjects, undefined, 60), { ok: false })
  // The same count whether the nested JSON is sent as strings or as objects.
  let limit = 60
  while (!decodeEvent(asStrings, undefined, limit).ok) limit++
  t.ok(decodeEvent(asObjects, undefined, limit).ok, `${limit} values, as strings`)
  t.notOk(decodeEvent(asObjects, undefined, limit - 1).ok, 'and as objects')
})
