import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'

// Builders for realistic SaaSus events, shaped like ../shared/samples (double-encoded JSON strings).

// Copies of ../shared/samples, unchanged, so the tests need nothing outside the repo.
const SAMPLES = new URL('../../examples/', import.meta.url)

export function sample (name: 'create_tenant' | 'create_saas_user'): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`${name}.json`, SAMPLES), 'utf8'))
}

export interface EventSpec {
  eventType: string
  method: string
  uri: string
  time: string
  httpStatus?: number | string
  request?: unknown
  response?: unknown
  id?: string
  logId?: string
  /** 'string' (2026 samples, the default) or 'object' (2023 samples) for detail.event and both bodies. */
  encoding?: 'string' | 'object'
}

export function makeEvent (spec: EventSpec): Record<string, any> {
  const encode = (value: unknown): unknown =>
    spec.encoding === 'object' ? value : value === undefined || value === '' ? '' : JSON.stringify(value)
  const logId = spec.logId ?? randomUUID()
  const inner = {
    log_id: logId,
    date_time: spec.time,
    date: spec.time.slice(0, 10),
    ttl: '2033-05-19T02:22:58Z',
    http_status: String(spec.httpStatus ?? 200),
    uri: spec.uri,
    ip_address: '127.0.0.1:44896',
    referer: 'https://saasadmin.console.saasus.io/',
    request_method: spec.method,
    saas_id: 'sample_saas_id_sample',
    api_key: 'saasus-secret-api-key-sample',
    request_body: encode(spec.request ?? {}),
    response_body: encode(spec.response)
  }
  return {
    version: '0',
    id: spec.id ?? randomUUID(),
    'detail-type': 'api_call',
    source: 'aws.partner/saasus.io/d8753ef8-8604-4b7d-8a44-cf9a64433209-1/event',
    account: '899411123005',
    time: spec.time,
    region: 'ap-northeast-1',
    resources: [],
    detail: { event_type: spec.eventType, event: spec.encoding === 'object' ? inner : JSON.stringify(inner), trace_id: randomUUID() }
  }
}

type Opts = Partial<EventSpec> & { time: string }

export const events = {
  createTenant: (tenantId: string, fields: { name: string, attributes?: object, back_office_staff_email?: string }, o: Opts) => {
    const body = { attributes: {}, back_office_staff_email: 'staff@example.com', ...fields }
    return makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', httpStatus: 201, request: body, response: { ...body, id: tenantId, plan_histories: [] }, ...o })
  },
  updateTenant: (tenantId: string, fields: { name: string, attributes?: object, back_office_staff_email?: string }, o: Opts) =>
    makeEvent({ eventType: 'update_tenant', method: 'PATCH', uri: `/v1/auth/tenants/${tenantId}`, request: { attributes: {}, back_office_staff_email: 'staff@example.com', ...fields }, response: '', ...o }),
  deleteTenant: (tenantId: string, o: Opts) =>
    makeEvent({ eventType: 'delete_tenant', method: 'DELETE', uri: `/v1/auth/tenants/${tenantId}`, request: '', response: '', ...o }),
  createUser: (userId: string, fields: { email?: string, sign_in_id?: string, attributes?: object }, o: Opts) =>
    makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', httpStatus: 201, request: { email: fields.email, password: 'P@ssw0rd-secret' }, response: { attributes: {}, sign_in_id: '', ...fields, id: userId }, ...o }),
  updateUserEmail: (userId: string, email: string, o: Opts) =>
    makeEvent({ eventType: 'update_saas_user_email', method: 'PATCH', uri: `/v1/auth/users/${userId}/email`, request: { email }, response: '', ...o }),
  updateUserAttributes: (userId: string, attributes: object, o: Opts) =>
    makeEvent({ eventType: 'update_saas_user_attributes', method: 'PATCH', uri: `/v1/auth/users/${userId}/attributes`, request: { attributes }, response: '', ...o }),
  deleteUser: (userId: string, o: Opts) =>
    makeEvent({ eventType: 'delete_saas_user', method: 'DELETE', uri: `/v1/auth/users/${userId}`, request: '', response: { id: userId, email: 'x@example.com', tenants: [] }, ...o }),
  updateUserSignInId: (userId: string, signInId: string, o: Opts) =>
    makeEvent({ eventType: 'update_saas_user_sign_in_id', method: 'PATCH', uri: `/v1/auth/users/${userId}/sign-in-id`, request: { sign_in_id: signInId }, response: '', ...o }),
  updateUserPassword: (userId: string, o: Opts) =>
    makeEvent({ eventType: 'update_saas_user_password', method: 'PATCH', uri: `/v1/auth/users/${userId}/password`, request: { password: 'N3w-P@ssw0rd-secret', temporary: false }, response: '', ...o }),
  updateTenantPlan: (tenantId: string, plan: Record<string, unknown>, o: Opts) =>
    makeEvent({ eventType: 'update_tenant_plan', method: 'PUT', uri: `/v1/auth/tenants/${tenantId}/plans`, request: plan, response: '', ...o }),
  updateTenantBillingInfo: (tenantId: string, name: string, o: Opts) =>
    makeEvent({
      eventType: 'update_tenant_billing_info', method: 'PUT', uri: `/v1/auth/tenants/${tenantId}/billing-info`, response: '', ...o,
      request: { name, address: { street: '1-2-3 Chiyoda', city: 'Tokyo', state: 'Tokyo', country: 'JP', postal_code: '100-0001' }, invoice_language: 'ja' }
    }),
  createTenantUser: (tenantId: string, userId: string, attributes: object, envs: Array<{ id: number, roles: string[] }>, o: Opts) =>
    makeEvent({
      eventType: 'create_tenant_user', method: 'POST', uri: `/v1/auth/tenants/${tenantId}/users`, httpStatus: 201, ...o,
      request: { email: `${userId}@example.com`, attributes },
      response: {
        id: userId, tenant_id: tenantId, tenant_name: 'tenant', email: `${userId}@example.com`, sign_in_id: '', attributes,
        envs: envs.map(e => ({ id: e.id, name: `env${e.id}`, display_name: `Env ${e.id}`, roles: e.roles.map(r => ({ role_name: r, display_name: r })) }))
      }
    }),
  updateTenantUser: (tenantId: string, userId: string, attributes: object, o: Opts) =>
    makeEvent({ eventType: 'update_tenant_user', method: 'PATCH', uri: `/v1/auth/tenants/${tenantId}/users/${userId}`, request: { attributes }, response: '', ...o }),
  deleteTenantUser: (tenantId: string, userId: string, o: Opts) =>
    makeEvent({ eventType: 'delete_tenant_user', method: 'DELETE', uri: `/v1/auth/tenants/${tenantId}/users/${userId}`, request: '', response: '', ...o }),
  createTenantUserRoles: (tenantId: string, userId: string, envId: number, roleNames: string[], o: Opts) =>
    makeEvent({ eventType: 'create_tenant_user_roles', method: 'POST', uri: `/v1/auth/tenants/${tenantId}/users/${userId}/envs/${envId}/roles`, httpStatus: 201, request: { role_names: roleNames }, response: '', ...o }),
  deleteTenantUserRole: (tenantId: string, userId: string, envId: number, roleName: string, o: Opts) =>
    makeEvent({ eventType: 'delete_tenant_user_role', method: 'DELETE', uri: `/v1/auth/tenants/${tenantId}/users/${userId}/envs/${envId}/roles/${encodeURIComponent(roleName)}`, request: '', response: '', ...o }),
  createRole: (roleName: string, displayName: string, o: Opts) =>
    makeEvent({ eventType: 'create_role', method: 'POST', uri: '/v1/auth/roles', httpStatus: 201, request: { role_name: roleName, display_name: displayName }, response: { role_name: roleName, display_name: displayName }, ...o }),
  updateRole: (roleName: string, displayName: string, o: Opts) =>
    makeEvent({ eventType: 'update_role', method: 'PATCH', uri: `/v1/auth/roles/${encodeURIComponent(roleName)}`, request: { display_name: displayName }, response: '', ...o }),
  deleteRole: (roleName: string, o: Opts) =>
    makeEvent({ eventType: 'delete_role', method: 'DELETE', uri: `/v1/auth/roles/${encodeURIComponent(roleName)}`, request: '', response: '', ...o }),
  createEnv: (id: number, name: string, o: Opts) =>
    makeEvent({ eventType: 'create_env', method: 'POST', uri: '/v1/auth/envs', httpStatus: 201, request: { id, name, display_name: name.toUpperCase() }, response: { id, name, display_name: name.toUpperCase() }, ...o }),
  updateEnv: (id: number, name: string, o: Opts) =>
    makeEvent({ eventType: 'update_env', method: 'PATCH', uri: `/v1/auth/envs/${id}`, request: { name }, response: '', ...o }),
  deleteEnv: (id: number, o: Opts) =>
    makeEvent({ eventType: 'delete_env', method: 'DELETE', uri: `/v1/auth/envs/${id}`, request: '', response: '', ...o })
}
