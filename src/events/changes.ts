import {
  CreateSaasUserResponse, CreateTenantResponse, UpdateSaasUserAttributesRequest,
  UpdateSaasUserEmailRequest, UpdateTenantRequest
} from '../schemas/bodies.js'
import type { DecodedEvent } from './decode.js'
import type { OperationName } from './operations.js'
import type { Version } from './version.js'
import { Checker, type ValidationProblem } from './checker.js'

export type Attributes = Record<string, unknown>

/** Fields of a tenant as SaaSus names them. A field absent from a change is left as it is. */
export interface TenantFields {
  name?: string | null
  attributes?: Attributes | null
  back_office_staff_email?: string | null
}

export interface UserFields {
  email?: string | null
  sign_in_id?: string | null
  attributes?: Attributes | null
}

/**
 * One guarded write: set `live` and the given fields of one row, each only where `version` is newer than
 * the version stored with it. A delete is `live: false` with every field cleared, so it leaves a tombstone
 * that older writes cannot get past.
 */
export type Change =
  | { entity: 'tenant', id: string, version: Version, live: boolean, fields: TenantFields }
  | { entity: 'user', id: string, version: Version, live: boolean, fields: UserFields }

export const TENANT_FIELD_NAMES = ['name', 'attributes', 'back_office_staff_email'] as const
export const USER_FIELD_NAMES = ['email', 'sign_in_id', 'attributes'] as const

const cleared = <K extends string>(names: readonly K[]): Record<K, null> =>
  Object.fromEntries(names.map(n => [n, null])) as Record<K, null>

/** What an event asks of the database: `ignored` events are recorded and change nothing. */
export type Plan =
  | { kind: 'changes', changes: Change[] }
  | { kind: 'ignored', reason: string }

export type Planned = { ok: true, plan: Plan } | { ok: false, problem: ValidationProblem }

const REQUEST = '/detail/event/request_body'
const RESPONSE = '/detail/event/response_body'

// Compiled once at start-up, not per request.
const createTenantResponse = new Checker(CreateTenantResponse)
const updateTenantRequest = new Checker(UpdateTenantRequest)
const createSaasUserResponse = new Checker(CreateSaasUserResponse)
const updateSaasUserEmailRequest = new Checker(UpdateSaasUserEmailRequest)
const updateSaasUserAttributesRequest = new Checker(UpdateSaasUserAttributesRequest)

type Planner = (event: DecodedEvent, params: Record<string, string>) => Planned

const changes = (...list: Change[]): Planned => ({ ok: true, plan: { kind: 'changes', changes: list } })

const PLANNERS: Partial<Record<OperationName, Planner>> = {
  create_tenant (event) {
    const body = createTenantResponse.check(event.responseBody, RESPONSE)
    if (!body.ok) return body
    const { id, name, attributes, back_office_staff_email } = body.value
    return changes({ entity: 'tenant', id, version: event.version, live: true, fields: { name, attributes, back_office_staff_email } })
  },
  update_tenant (event, { tenant_id }) {
    const body = updateTenantRequest.check(event.requestBody, REQUEST)
    if (!body.ok) return body
    const { name, attributes, back_office_staff_email } = body.value
    return changes({ entity: 'tenant', id: tenant_id, version: event.version, live: true, fields: { name, attributes, back_office_staff_email } })
  },
  delete_tenant (event, { tenant_id }) {
    return changes({ entity: 'tenant', id: tenant_id, version: event.version, live: false, fields: cleared(TENANT_FIELD_NAMES) })
  },
  create_saas_user (event) {
    const body = createSaasUserResponse.check(event.responseBody, RESPONSE)
    if (!body.ok) return body
    const { id, email, sign_in_id, attributes } = body.value
    // The created user has exactly these values: an absent one is empty, not "unchanged".
    const fields: UserFields = { email: email ?? null, sign_in_id: sign_in_id ?? null, attributes: attributes ?? {} }
    return changes({ entity: 'user', id, version: event.version, live: true, fields })
  },
  update_saas_user_email (event, { user_id }) {
    const body = updateSaasUserEmailRequest.check(event.requestBody, REQUEST)
    if (!body.ok) return body
    return changes({ entity: 'user', id: user_id, version: event.version, live: true, fields: { email: body.value.email } })
  },
  update_saas_user_attributes (event, { user_id }) {
    const body = updateSaasUserAttributesRequest.check(event.requestBody, REQUEST)
    if (!body.ok) return body
    return changes({ entity: 'user', id: user_id, version: event.version, live: true, fields: { attributes: body.value.attributes } })
  },
  delete_saas_user (event, { user_id }) {
    return changes({ entity: 'user', id: user_id, version: event.version, live: false, fields: cleared(USER_FIELD_NAMES) })
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
  const planner = event.operation && PLANNERS[event.operation.name]
  if (event.operation === undefined || planner === undefined) {
    return { ok: true, plan: { kind: 'ignored', reason: `${event.method} ${event.uri} is not projected` } }
  }
  return planner(event, event.operation.params)
}
