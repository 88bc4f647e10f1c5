import t from 'tap'
import { decodeEvent } from '../../src/events/decode.js'
import { planEvent, type Planned } from '../../src/events/changes.js'
import { events, makeEvent } from '../helpers/events.js'

const time = '2026-05-19T02:22:58Z'

function plan (event: Record<string, any>): Planned {
  const decoded = decodeEvent(event)
  if (!decoded.ok) throw new Error(JSON.stringify(decoded.problem))
  return planEvent(decoded.event)
}

function only (planned: Planned) {
  if (!planned.ok || planned.plan.kind !== 'changes') throw new Error(`expected changes, got ${JSON.stringify(planned)}`)
  const [change, ...rest] = planned.plan.changes
  if (rest.length > 0) throw new Error('expected one change')
  const { version, ...withoutVersion } = change
  return withoutVersion
}

t.test('each projected call becomes one guarded change', async t => {
  t.same(only(plan(events.createTenant('t1', { name: 'n', attributes: { a: 1 }, back_office_staff_email: 'e@x' }, { time }))),
    { entity: 'tenant', id: 't1', live: true, fields: { name: 'n', attributes: { a: 1 }, back_office_staff_email: 'e@x' } })
  t.same(only(plan(events.updateTenant('t1', { name: 'n2' }, { time }))),
    { entity: 'tenant', id: 't1', live: true, fields: { name: 'n2', attributes: {}, back_office_staff_email: 'staff@example.com' } })
  t.same(only(plan(events.deleteTenant('t1', { time }))),
    { entity: 'tenant', id: 't1', live: false, fields: { name: null, attributes: null, back_office_staff_email: null } })
  t.same(only(plan(events.createUser('u1', { email: 'a@x' }, { time }))),
    { entity: 'user', id: 'u1', live: true, fields: { email: 'a@x', sign_in_id: '', attributes: {} } })
  t.same(only(plan(events.updateUserEmail('u1', 'b@x', { time }))),
    { entity: 'user', id: 'u1', live: true, fields: { email: 'b@x' } })
  t.same(only(plan(events.updateUserAttributes('u1', { k: 'v' }, { time }))),
    { entity: 'user', id: 'u1', live: true, fields: { attributes: { k: 'v' } } })
  t.same(only(plan(events.deleteUser('u1', { time }))),
    { entity: 'user', id: 'u1', live: false, fields: { email: null, sign_in_id: null, attributes: null } })
})

t.test('a user created with a sign-in id only has no email and empty attributes', async t => {
  const event = makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', time, httpStatus: 201, response: { id: 'u2', sign_in_id: 'login-name' } })
  t.same(only(plan(event)).fields, { email: null, sign_in_id: 'login-name', attributes: {} })
})

t.test('failed and unknown calls are ignored, with a reason', async t => {
  t.match(plan(events.createTenant('t1', { name: 'n' }, { time, httpStatus: 409 })), { ok: true, plan: { kind: 'ignored', reason: /409/ } })
  t.match(plan(events.createTenant('t1', { name: 'n' }, { time, httpStatus: 199 })), { ok: true, plan: { kind: 'ignored' } })
  t.match(plan(makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/roles', time })), { ok: true, plan: { kind: 'ignored', reason: /not projected/ } })
  t.match(plan(makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/unknown', time })), { ok: true, plan: { kind: 'ignored' } })
})

t.test('a projected call without what the projection needs is refused', async t => {
  const cases: Array<[Record<string, any>, string]> = [
    [makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', time, httpStatus: 201, response: '' }), '/detail/event/response_body'],
    [makeEvent({ eventType: 'update_tenant', method: 'PATCH', uri: '/v1/auth/tenants/t1', time, request: { name: 'x' } }), '/detail/event/request_body/attributes'],
    [makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', time, httpStatus: 201, response: { id: 'u', attributes: [] } }), '/detail/event/response_body/attributes'],
    [makeEvent({ eventType: 'update_saas_user_email', method: 'PATCH', uri: '/v1/auth/users/u/email', time, request: {} }), '/detail/event/request_body/email'],
    [makeEvent({ eventType: 'update_saas_user_attributes', method: 'PATCH', uri: '/v1/auth/users/u/attributes', time, request: { attributes: 'x' } }), '/detail/event/request_body/attributes']
  ]
  for (const [event, field] of cases) {
    const planned = plan(event)
    t.notOk(planned.ok)
    if (!planned.ok) t.equal(planned.problem.field, field)
  }
})
