import type { TSchema, Static } from '@sinclair/typebox'
import * as Bodies from '../schemas/bodies.js'
import { MAX_ENV_ID, MAX_ID_LENGTH } from '../schemas/ids.js'
import type { DecodedEvent } from './decode.js'
import type { OperationName } from './operations.js'
import type { Version } from './version.js'
import { ENTITIES, type AttributeScope, type Entity } from './entities.js'
import { Checker, type Checked, type ValidationProblem } from './checker.js'
import { asReservation, planOpOf, type PlanOp } from './plan-state.js'

export type Attributes = Record<string, unknown>
export type Key = Record<string, string | number>

/**
 * A guarded write to one row: set `live` and the given fields, each only where `version` is newer than the
 * version stored with it. Fields absent from `fields` are left as they are. A delete is `live: false`
 * with every field cleared, so it leaves a tombstone that older writes cannot get past.
 */
export interface RegisterChange {
  kind: 'register'
  entity: Entity
  key: Key
  version: Version
  live: boolean
  fields: Record<string, unknown>
}

/**
 * A key written with this is taken away (a reconciliation found it absent from SaaSus). Every JSON value,
 * null included, is a value that stays: SaaSus's attributes may hold any.
 */
export const REMOVED: unique symbol = Symbol('attribute removed')

/** Per-key writes to one attribute object: a JSON value, or REMOVED. */
export interface AttributesChange {
  kind: 'attributes'
  scope: AttributeScope
  tenantId: string
  userId: string
  version: Version
  values: Attributes
}

/** One change of a tenant's plan (events/plan-state.ts), kept as a row of its own: the plan is their fold. */
export interface PlanChange {
  kind: 'plan'
  tenantId: string
  version: Version
  op: PlanOp
}

export type Change = RegisterChange | AttributesChange | PlanChange

/** What an event asks of the database: `ignored` events are recorded and change nothing. */
export type Plan =
  | { kind: 'changes', changes: Change[] }
  | { kind: 'ignored', reason: string }

export type Planned = { ok: true, plan: Plan } | { ok: false, problem: ValidationProblem }

const REQUEST = '/detail/event/request_body'
const RESPONSE = '/detail/event/response_body'
const URI = '/detail/event/uri'

/** Writes `live` and some fields of a row. */
export const put = (entity: Entity, key: Key, version: Version, fields: Record<string, unknown> = {}): RegisterChange =>
  ({ kind: 'register', entity, key, version, live: true, fields })

/** A tombstone: not live, every field cleared, at the delete's version. */
export const remove = (entity: Entity, key: Key, version: Version): RegisterChange => ({
  kind: 'register',
  entity,
  key,
  version,
  live: false,
  fields: Object.fromEntries(ENTITIES[entity].fields.map(f => [f.name, null]))
})

export const attributes = (scope: AttributeScope, owner: { tenantId?: string, userId?: string }, version: Version, values: Attributes): AttributesChange =>
  ({ kind: 'attributes', scope, tenantId: owner.tenantId ?? '', userId: owner.userId ?? '', version, values })

export const planChange = (tenantId: string, version: Version, op: PlanOp): PlanChange => ({ kind: 'plan', tenantId, version, op })

/** Only the properties that are present: an absent field is "unchanged", not "cleared". */
const present = (values: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined))

// Every body schema compiled once at start-up, not per request.
const checkers = new Map<TSchema, Checker<TSchema>>(Object.values(Bodies).map(schema => [schema, new Checker(schema)]))
const body = <S extends TSchema>(schema: S, value: unknown, field: string): Checked<Static<S>> =>
  checkers.get(schema)!.check(value, field) as Checked<Static<S>>

/**
 * An env id from the uri: any run of decimal digits (SaaSus's ids are uint64s), kept when it is at most
 * MAX_ENV_ID; else why not. Past 2^53 - 1 a JavaScript number would round it: refused instead, never rounded.
 */
function envId (raw: string): number | ValidationProblem {
  if (!/^\d+$/.test(raw)) return { field: URI, message: `env_id ${JSON.stringify(raw)} is not an unsigned integer` }
  const id = Number(raw)
  // Number() rounds monotonically: a decimal above MAX_ENV_ID never reads as MAX_ENV_ID or below.
  if (id > MAX_ENV_ID) return { field: URI, message: `env_id ${raw} is above ${MAX_ENV_ID}, the largest env id this service keeps exactly (2^53 - 1): refused, not rounded` }
  return id
}

type Planner = (event: DecodedEvent, params: Record<string, string>) => Change[] | ValidationProblem

const PLANNERS: Partial<Record<OperationName, Planner>> = {
  create_tenant ({ responseBody, version }) {
    const b = body(Bodies.CreateTenantResponse, responseBody, RESPONSE)
    if (!b.ok) return b.problem
    const { id, name, back_office_staff_email, plan_id, plan_histories, billing_info } = b.value
    // The answer is the whole new tenant (SaaSus's Tenant): what it does not show, it does not have. So its
    // plan, reservation and billing are written too, at the create's version: a plan change or billing
    // update dated before the tenant existed never shows, whichever arrives first.
    return [
      put('tenant', { id }, version, {
        name, back_office_staff_email, plan_id: plan_id ?? null, plan_histories: plan_histories ?? [], next_plan: asReservation(b.value), billing_info: billing_info ?? null
      }),
      attributes('tenant', { tenantId: id }, version, b.value.attributes)
    ]
  },
  update_tenant ({ requestBody, version }, { tenant_id }) {
    const b = body(Bodies.UpdateTenantRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    const { name, back_office_staff_email } = b.value
    return [
      put('tenant', { id: tenant_id }, version, { name, back_office_staff_email }),
      attributes('tenant', { tenantId: tenant_id }, version, b.value.attributes)
    ]
  },
  delete_tenant: ({ version }, { tenant_id }) => [remove('tenant', { id: tenant_id }, version)],
  update_tenant_plan ({ requestBody, version }, { tenant_id }) {
    // A PUT replaces the plan information as a whole: without using_next_plan_from the plan applies at once,
    // with it the plan is reserved for that instant, without next_plan_id any reservation is cancelled.
    const b = body(Bodies.UpdateTenantPlanRequest, requestBody ?? {}, REQUEST)
    if (!b.ok) return b.problem
    return [put('tenant', { id: tenant_id }, version), planChange(tenant_id, version, planOpOf(b.value))]
  },
  update_tenant_billing_info ({ requestBody, version }, { tenant_id }) {
    const b = body(Bodies.UpdateTenantBillingInfoRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    return [put('tenant', { id: tenant_id }, version, { billing_info: b.value })]
  },
  create_saas_user ({ responseBody, version }) {
    const b = body(Bodies.CreateSaasUserResponse, responseBody, RESPONSE)
    if (!b.ok) return b.problem
    const { id, email, sign_in_id } = b.value
    // The created user has exactly these values: an absent one is empty, not "unchanged".
    return [
      put('user', { id }, version, { email: email ?? null, sign_in_id: sign_in_id ?? null }),
      attributes('user', { userId: id }, version, b.value.attributes ?? {})
    ]
  },
  update_saas_user_email ({ requestBody, version }, { user_id }) {
    const b = body(Bodies.UpdateSaasUserEmailRequest, requestBody, REQUEST)
    return b.ok ? [put('user', { id: user_id }, version, { email: b.value.email })] : b.problem
  },
  update_saas_user_sign_in_id ({ requestBody, version }, { user_id }) {
    const b = body(Bodies.UpdateSaasUserSignInIdRequest, requestBody, REQUEST)
    return b.ok ? [put('user', { id: user_id }, version, { sign_in_id: b.value.sign_in_id })] : b.problem
  },
  update_saas_user_attributes ({ requestBody, version }, { user_id }) {
    const b = body(Bodies.UpdateAttributesRequest, requestBody, REQUEST)
    return b.ok ? [put('user', { id: user_id }, version), attributes('user', { userId: user_id }, version, b.value.attributes)] : b.problem
  },
  delete_saas_user: ({ version }, { user_id }) => [remove('user', { id: user_id }, version)],
  create_tenant_user ({ requestBody, responseBody, version }, { tenant_id }) {
    const b = body(Bodies.CreateTenantUserResponse, responseBody, RESPONSE)
    if (!b.ok) return b.problem
    const request = body(Bodies.CreateTenantUserRequest, requestBody ?? {}, REQUEST)
    if (!request.ok) return request.problem
    const { id: user_id, email, sign_in_id, envs } = b.value
    // Creating a tenant user with a new email creates the SaaS user too: record that it exists.
    const changes: Change[] = [
      put('user', { id: user_id }, version, present({ email, sign_in_id })),
      put('tenant_user', { tenant_id, user_id }, version),
      attributes('tenant_user', { tenantId: tenant_id, userId: user_id }, version, b.value.attributes ?? request.value.attributes ?? {})
    ]
    for (const env of envs ?? []) {
      const roles = env.roles ?? []
      // SaaSus's answer lists the env with no role: the listing shows it (entities.ts tenant_user_env).
      if (roles.length === 0) changes.push(put('tenant_user_env', { tenant_id, user_id, env_id: env.id }, version))
      for (const role of roles) {
        changes.push(put('tenant_user_role', { tenant_id, user_id, env_id: env.id, role_name: role.role_name }, version))
      }
    }
    return changes
  },
  update_tenant_user ({ requestBody, version }, { tenant_id, user_id }) {
    const b = body(Bodies.UpdateAttributesRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    return [
      put('tenant_user', { tenant_id, user_id }, version),
      attributes('tenant_user', { tenantId: tenant_id, userId: user_id }, version, b.value.attributes)
    ]
  },
  delete_tenant_user: ({ version }, { tenant_id, user_id }) => [remove('tenant_user', { tenant_id, user_id }, version)],
  create_tenant_user_roles ({ requestBody, version }, { tenant_id, user_id, env_id }) {
    const env = envId(env_id)
    if (typeof env !== 'number') return env
    const b = body(Bodies.CreateTenantUserRolesRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    return b.value.role_names.map(role_name => put('tenant_user_role', { tenant_id, user_id, env_id: env, role_name }, version))
  },
  delete_tenant_user_role ({ version }, { tenant_id, user_id, env_id, role_name }) {
    const env = envId(env_id)
    if (typeof env !== 'number') return env
    return [remove('tenant_user_role', { tenant_id, user_id, env_id: env, role_name }, version)]
  },
  create_role ({ requestBody, version }) {
    const b = body(Bodies.CreateRoleRequest, requestBody, REQUEST)
    return b.ok ? [put('role', { role_name: b.value.role_name }, version, { display_name: b.value.display_name })] : b.problem
  },
  update_role ({ requestBody, version }, { role_name }) {
    const b = body(Bodies.UpdateRoleRequest, requestBody, REQUEST)
    return b.ok ? [put('role', { role_name }, version, { display_name: b.value.display_name })] : b.problem
  },
  delete_role: ({ version }, { role_name }) => [remove('role', { role_name }, version)],
  create_env ({ requestBody, version }) {
    const b = body(Bodies.CreateEnvRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    return [put('env', { id: b.value.id }, version, { name: b.value.name, display_name: b.value.display_name ?? null })]
  },
  update_env ({ requestBody, version }, { env_id }) {
    const env = envId(env_id)
    if (typeof env !== 'number') return env
    const b = body(Bodies.UpdateEnvRequest, requestBody, REQUEST)
    if (!b.ok) return b.problem
    return [put('env', { id: env }, version, present({ name: b.value.name, display_name: b.value.display_name }))]
  },
  delete_env ({ version }, { env_id }) {
    const env = envId(env_id)
    if (typeof env !== 'number') return env
    return [remove('env', { id: env }, version)]
  }
}

const isSuccess = (status: number): boolean => status >= 200 && status < 300

/**
 * The database changes an event asks for. Pure: the same event always gives the same plan.
 * A failed call (non-2xx) or a call this version does not project is `ignored`; a projected call whose
 * body lacks what the projection needs is a validation problem.
 */
export function planEvent (event: DecodedEvent): Planned {
  if (!isSuccess(event.httpStatus)) {
    return { ok: true, plan: { kind: 'ignored', reason: `http_status ${event.httpStatus} is not a success` } }
  }
  const planner = event.operation === undefined ? undefined : PLANNERS[event.operation.name]
  if (event.operation === undefined || planner === undefined) {
    return { ok: true, plan: { kind: 'ignored', reason: `${event.method} ${event.uri} is not projected` } }
  }
  // Ids from the uri become keys that the read API must be able to look up again.
  const long = Object.entries(event.operation.params).find(([, value]) => value.length > MAX_ID_LENGTH)
  if (long !== undefined) {
    return { ok: false, problem: { field: URI, message: `names a ${long[0]} longer than ${MAX_ID_LENGTH} characters (the longest id this service keeps)` } }
  }
  const result = planner(event, event.operation.params)
  return Array.isArray(result) ? { ok: true, plan: { kind: 'changes', changes: result } } : { ok: false, problem: result }
}
