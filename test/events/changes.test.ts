import t from 'tap'
import { decodeEvent } from '../../src/events/decode.js'
import { planEvent, type Change, type Planned } from '../../src/events/changes.js'
import { events, makeEvent } from '../helpers/events.js'

const time = '2026-05-19T02:22:58Z'

function plan (event: Record<string, any>): Planned {
  const decoded = decodeEvent(event)
  if (!decoded.ok) throw new Error(JSON.stringify(decoded.problem))
  return planEvent(decoded.event)
}

/** The changes of a plan, without their version (the same for every change of one event). */
function changes (planned: Planned): Array<Omit<Change, 'version'>> {
  if (!planned.ok || planned.plan.kind !== 'changes') throw new Error(`expected changes, got ${JSON.stringify(planned)}`)
  const versions = new Set(planned.plan.changes.map(c => c.version))
  if (versions.size !== 1) throw new Error('every change of an event carries its version')
  return planned.plan.changes.map(({ version, ...rest }) => rest)
}

const tenant = (id: string, fields: Record<string, unknown>, live = true) => ({ kind: 'register', entity: 'tenant', key: { id }, live, fields })
const user = (id: string, fields: Record<string, unknown>, live = true) => ({ kind: 'register', entity: 'user', key: { id }, live, fields })
const attrs = (scope: string, tenantId: string, userId: string, values: Record<string, unknown>) => ({ kind: 'attributes', scope, tenantId, userId, values })

t.test('tenant calls', async t => {
  t.same(changes(plan(events.createTenant('t1', { name: 'n', attributes: { a: 1 }, back_office_staff_email: 'e@x' }, { time }))), [
    // The whole new tenant: no plan, no reservation, no billing where the answer shows none.
    tenant('t1', { name: 'n', back_office_staff_email: 'e@x', plan_id: null, plan_histories: [], next_plan: null, billing_info: null }),
    attrs('tenant', 't1', '', { a: 1 })
  ])
  const answering = (fields: Record<string, unknown>) => {
    const event = events.createTenant('t1', { name: 'n' }, { time })
    const inner = JSON.parse(event.detail.event)
    inner.response_body = JSON.stringify({ ...JSON.parse(inner.response_body), ...fields })
    event.detail.event = JSON.stringify(inner)
    return event
  }
  t.match(changes(plan(answering({ plan_id: 'plan-1' })))[0], { fields: { plan_id: 'plan-1' } }, 'plan_id when the response carries it')
  const billing = { name: 'B', address: { street: 's', city: 'c', state: 'st', country: 'JP', postal_code: '1' }, invoice_language: 'en-US' }
  t.match(changes(plan(answering({ next_plan_id: 'plan-2', using_next_plan_from: 1780000000, proration_behavior: 'none', billing_info: billing })))[0], {
    fields: { next_plan: { next_plan_id: 'plan-2', using_next_plan_from: 1780000000, next_plan_tax_rate_id: null, proration_behavior: 'none', delete_usage: null }, billing_info: billing }
  }, 'the reservation and billing the response carries')

  t.same(changes(plan(events.updateTenant('t1', { name: 'n2', attributes: { a: null } }, { time }))), [
    tenant('t1', { name: 'n2', back_office_staff_email: 'staff@example.com' }),
    attrs('tenant', 't1', '', { a: null })
  ])
  t.same(changes(plan(events.deleteTenant('t1', { time }))), [
    tenant('t1', { name: null, back_office_staff_email: null, plan_id: null, plan_histories: null, next_plan: null, billing_info: null }, false)
  ])
  const planChange = (op: Record<string, unknown>) => [tenant('t1', {}), { kind: 'plan', tenantId: 't1', op }]
  t.same(changes(plan(events.updateTenantPlan('t1', { next_plan_id: 'p2', using_next_plan_from: 1780000000 }, { time }))), planChange({
    kind: 'reserve', reservation: { next_plan_id: 'p2', using_next_plan_from: 1780000000, next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null }
  }), 'with using_next_plan_from: a reservation')
  t.same(changes(plan(events.updateTenantPlan('t1', { next_plan_id: 'p3', next_plan_tax_rate_id: 'tax', proration_behavior: 'none', delete_usage: true }, { time }))), planChange({
    kind: 'apply', plan_id: 'p3', tax_rate_id: 'tax', proration_behavior: 'none', delete_usage: true
  }), 'without it: the plan applies at once')
  t.same(changes(plan(events.updateTenantPlan('t1', {}, { time, request: '' }))), planChange({ kind: 'cancel' }), 'an empty body cancels the reservation')
  t.match(changes(plan(events.updateTenantBillingInfo('t1', 'ACME', { time })))[0], { fields: { billing_info: { name: 'ACME', invoice_language: 'ja', address: { city: 'Tokyo' } } } })
})

t.test('SaaS user calls', async t => {
  t.same(changes(plan(events.createUser('u1', { email: 'a@x', attributes: { k: 'v' } }, { time }))), [
    user('u1', { email: 'a@x', sign_in_id: '' }), attrs('user', '', 'u1', { k: 'v' })
  ])
  const signInOnly = makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', time, httpStatus: 201, response: { id: 'u2', sign_in_id: 'login' } })
  t.same(changes(plan(signInOnly)), [user('u2', { email: null, sign_in_id: 'login' }), attrs('user', '', 'u2', {})],
    'an absent value of a created user is empty, not unchanged')
  t.same(changes(plan(events.updateUserEmail('u1', 'b@x', { time }))), [user('u1', { email: 'b@x' })])
  t.same(changes(plan(events.updateUserSignInId('u1', 'login2', { time }))), [user('u1', { sign_in_id: 'login2' })])
  t.same(changes(plan(events.updateUserAttributes('u1', { k: 'v2' }, { time }))), [user('u1', {}), attrs('user', '', 'u1', { k: 'v2' })])
  t.same(changes(plan(events.deleteUser('u1', { time }))), [user('u1', { email: null, sign_in_id: null }, false)])
  t.match(plan(events.updateUserPassword('u1', { time })), { ok: true, plan: { kind: 'ignored' } }, 'password calls change nothing')
  t.match(plan(makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/users/u1/password/reset', time, response: { password: 'x' } })), { ok: true, plan: { kind: 'ignored' } })
})

t.test('tenant users and their roles', async t => {
  t.same(changes(plan(events.createTenantUser('t1', 'u1', { dept: 'dev' }, [{ id: 1, roles: ['admin', 'viewer'] }, { id: 3, roles: [] }], { time }))), [
    user('u1', { email: 'u1@example.com', sign_in_id: '' }),
    { kind: 'register', entity: 'tenant_user', key: { tenant_id: 't1', user_id: 'u1' }, live: true, fields: {} },
    attrs('tenant_user', 't1', 'u1', { dept: 'dev' }),
    { kind: 'register', entity: 'tenant_user_role', key: { tenant_id: 't1', user_id: 'u1', env_id: 1, role_name: 'admin' }, live: true, fields: {} },
    { kind: 'register', entity: 'tenant_user_role', key: { tenant_id: 't1', user_id: 'u1', env_id: 1, role_name: 'viewer' }, live: true, fields: {} },
    { kind: 'register', entity: 'tenant_user_env', key: { tenant_id: 't1', user_id: 'u1', env_id: 3 }, live: true, fields: {} }
  ], 'an env listed with roles: [] is listed without role; one with roles, by its roles only')
  const noRolesField = makeEvent({ eventType: 'create_tenant_user', method: 'POST', uri: '/v1/auth/tenants/t1/users', time, httpStatus: 201, request: {}, response: { id: 'u1', envs: [{ id: 4 }] } })
  t.same(changes(plan(noRolesField)).slice(3), [{ kind: 'register', entity: 'tenant_user_env', key: { tenant_id: 't1', user_id: 'u1', env_id: 4 }, live: true, fields: {} }],
    'an env listed without its roles field is listed without role too')
  const noEnvs = makeEvent({ eventType: 'create_tenant_user', method: 'POST', uri: '/v1/auth/tenants/t1/users', time, httpStatus: 201, request: { attributes: { from: 'request' } }, response: { id: 'u1' } })
  t.same(changes(plan(noEnvs)).slice(2), [attrs('tenant_user', 't1', 'u1', { from: 'request' })], 'attributes from the request when the response has none')
  const bare = makeEvent({ eventType: 'create_tenant_user', method: 'POST', uri: '/v1/auth/tenants/t1/users', time, httpStatus: 201, request: '', response: { id: 'u1' } })
  t.same(changes(plan(bare))[0], user('u1', {}), 'no email in the response: the user\'s fields are left as they are')

  t.same(changes(plan(events.updateTenantUser('t1', 'u1', { dept: null }, { time }))), [
    { kind: 'register', entity: 'tenant_user', key: { tenant_id: 't1', user_id: 'u1' }, live: true, fields: {} },
    attrs('tenant_user', 't1', 'u1', { dept: null })
  ])
  t.same(changes(plan(events.deleteTenantUser('t1', 'u1', { time }))), [
    { kind: 'register', entity: 'tenant_user', key: { tenant_id: 't1', user_id: 'u1' }, live: false, fields: {} }
  ])
  t.same(changes(plan(events.createTenantUserRoles('t1', 'u1', 2, ['admin'], { time }))), [
    { kind: 'register', entity: 'tenant_user_role', key: { tenant_id: 't1', user_id: 'u1', env_id: 2, role_name: 'admin' }, live: true, fields: {} }
  ])
  t.same(changes(plan(events.deleteTenantUserRole('t1', 'u1', 2, 'team lead/ops', { time }))), [
    { kind: 'register', entity: 'tenant_user_role', key: { tenant_id: 't1', user_id: 'u1', env_id: 2, role_name: 'team lead/ops' }, live: false, fields: {} }
  ], 'URL-encoded path segments are decoded')
})

t.test('role and env definitions', async t => {
  t.same(changes(plan(events.createRole('admin', 'Administrator', { time }))), [{ kind: 'register', entity: 'role', key: { role_name: 'admin' }, live: true, fields: { display_name: 'Administrator' } }])
  t.same(changes(plan(events.updateRole('a b', 'AB', { time }))), [{ kind: 'register', entity: 'role', key: { role_name: 'a b' }, live: true, fields: { display_name: 'AB' } }])
  t.same(changes(plan(events.deleteRole('admin', { time }))), [{ kind: 'register', entity: 'role', key: { role_name: 'admin' }, live: false, fields: { display_name: null } }])
  t.same(changes(plan(events.createEnv(3, 'dev', { time }))), [{ kind: 'register', entity: 'env', key: { id: 3 }, live: true, fields: { name: 'dev', display_name: 'DEV' } }])
  t.same(changes(plan(events.updateEnv(3, 'stg', { time }))), [{ kind: 'register', entity: 'env', key: { id: 3 }, live: true, fields: { name: 'stg' } }])
  t.same(changes(plan(events.deleteEnv(3, { time }))), [{ kind: 'register', entity: 'env', key: { id: 3 }, live: false, fields: { name: null, display_name: null } }])
})

t.test('an empty response_body in each of its forms is fine where none is documented', async t => {
  for (const encoding of ['string', 'object'] as const) {
    for (const response of ['', 'null', {}, undefined, null]) {
      const event = events.updateUserEmail('u1', 'b@x', { time, encoding })
      const inner = encoding === 'string' ? JSON.parse(event.detail.event) : event.detail.event
      if (response === undefined) delete inner.response_body
      else inner.response_body = response
      if (encoding === 'string') event.detail.event = JSON.stringify(inner)
      t.same(changes(plan(event)), [user('u1', { email: 'b@x' })], `${encoding} encoding, response ${JSON.stringify(response)}`)
    }
  }
})

t.test('failed and unknown calls are ignored, with a reason', async t => {
  t.match(plan(events.createTenant('t1', { name: 'n' }, { time, httpStatus: 409 })), { ok: true, plan: { kind: 'ignored', reason: /409/ } })
  t.match(plan(events.createTenant('t1', { name: 'n' }, { time, httpStatus: 199 })), { ok: true, plan: { kind: 'ignored' } })
  t.match(plan(makeEvent({ eventType: 'x', method: 'PUT', uri: '/v1/auth/auth-info', time })), { ok: true, plan: { kind: 'ignored', reason: /not projected/ } })
  t.match(plan(makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/unknown', time })), { ok: true, plan: { kind: 'ignored' } })
})

t.test('a projected call without what the projection needs is refused', async t => {
  const cases: Array<[Record<string, any>, string]> = [
    [makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', time, httpStatus: 201, response: '' }), '/detail/event/response_body'],
    [makeEvent({ eventType: 'update_tenant', method: 'PATCH', uri: '/v1/auth/tenants/t1', time, request: { name: 'x' } }), '/detail/event/request_body/attributes'],
    [events.updateTenantPlan('t1', { using_next_plan_from: 'tomorrow' }, { time }), '/detail/event/request_body/using_next_plan_from'],
    [makeEvent({ eventType: 'x', method: 'PUT', uri: '/v1/auth/tenants/t1/billing-info', time, request: { name: 'x' } }), '/detail/event/request_body/address'],
    [makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', time, httpStatus: 201, response: { id: 'u', attributes: [] } }), '/detail/event/response_body/attributes'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/users/u/email', time, request: {} }), '/detail/event/request_body/email'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/users/u/sign-in-id', time, request: {} }), '/detail/event/request_body/sign_in_id'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/users/u/attributes', time, request: { attributes: 'x' } }), '/detail/event/request_body/attributes'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/tenants/t/users', time, response: { id: 'u', envs: [{ id: 'one' }] } }), '/detail/event/response_body/envs/0/id'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/tenants/t/users', time, request: { attributes: 1 }, response: { id: 'u' } }), '/detail/event/request_body/attributes'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/tenants/t/users/u', time, request: {} }), '/detail/event/request_body/attributes'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/tenants/t/users/u/envs/x/roles', time, request: { role_names: ['a'] } }), '/detail/event/uri'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/tenants/t/users/u/envs/1/roles', time, request: { role_names: 'a' } }), '/detail/event/request_body/role_names'],
    [makeEvent({ eventType: 'x', method: 'DELETE', uri: '/v1/auth/tenants/t/users/u/envs/-1/roles/a', time }), '/detail/event/uri'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/roles', time, request: { role_name: 'a' } }), '/detail/event/request_body/display_name'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/roles/a', time, request: {} }), '/detail/event/request_body/display_name'],
    [makeEvent({ eventType: 'x', method: 'POST', uri: '/v1/auth/envs', time, request: { id: '1', name: 'a' } }), '/detail/event/request_body/id'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/envs/1', time, request: {} }), '/detail/event/request_body/name'],
    [makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/envs/prod', time, request: { name: 'a' } }), '/detail/event/uri'],
    [makeEvent({ eventType: 'x', method: 'DELETE', uri: '/v1/auth/envs/1.5', time }), '/detail/event/uri']
  ]
  for (const [event, field] of cases) {
    const planned = plan(event)
    t.notOk(planned.ok, field)
    if (!planned.ok) t.equal(planned.problem.field, field)
  }
})
