import { Type, type Static } from '@sinclair/typebox'
import { MAX_ENV_ID, MAX_ID_LENGTH } from './ids.js'
import { MAX_ATTRIBUTES, MAX_ROLE_NAMES } from './entries.js'

// Request and response bodies of the calls this version projects (SaaSus Auth API v1.13.6).
// Only what the projection reads is required; unknown fields are allowed.

export const Attributes = Type.Record(Type.String(), Type.Unknown(), { maxProperties: MAX_ATTRIBUTES })

// Not empty (no later call can name an empty id in its uri), and at most the longest id this service keeps.
const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH })

const NullableString = Type.Union([Type.String(), Type.Null()])

/** SaaSus's `Id` (a uint64), as far as it is kept exactly: src/schemas/ids.ts MAX_ENV_ID. */
export const EnvId = Type.Integer({ minimum: 0, maximum: MAX_ENV_ID })

/** Response of POST /v1/auth/tenants (the Tenant object). */
export const CreateTenantResponse = Type.Object({
  id: Id,
  name: Type.String(),
  attributes: Attributes,
  back_office_staff_email: Type.String(),
  plan_id: Type.Optional(NullableString),
  plan_histories: Type.Optional(Type.Array(Type.Unknown())),
  // The rest of SaaSus's Tenant: its reservation (PlanReservation) and billing, none when absent.
  next_plan_id: Type.Optional(NullableString),
  using_next_plan_from: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  next_plan_tax_rate_id: Type.Optional(NullableString),
  proration_behavior: Type.Optional(NullableString),
  delete_usage: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  billing_info: Type.Optional(Type.Unknown())
})

/** Request of PATCH /v1/auth/tenants/{tenant_id}: every field is required by the API. */
export const UpdateTenantRequest = Type.Object({
  name: Type.String(),
  attributes: Attributes,
  back_office_staff_email: Type.String()
})

/** Request of PUT /v1/auth/tenants/{tenant_id}/plans: a plan reservation; every field is optional. */
export const UpdateTenantPlanRequest = Type.Object({
  next_plan_id: Type.Optional(NullableString),
  using_next_plan_from: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  next_plan_tax_rate_id: Type.Optional(NullableString),
  proration_behavior: Type.Optional(NullableString),
  delete_usage: Type.Optional(Type.Union([Type.Boolean(), Type.Null()]))
})

/** Request of PUT /v1/auth/tenants/{tenant_id}/billing-info. */
export const UpdateTenantBillingInfoRequest = Type.Object({
  name: Type.String(),
  address: Type.Object({
    street: Type.String(),
    city: Type.String(),
    state: Type.String(),
    country: Type.String(),
    postal_code: Type.String(),
    additional_address_info: Type.Optional(Type.String())
  }),
  invoice_language: Type.String()
})

/** Response of POST /v1/auth/users (the SaasUser object). */
export const CreateSaasUserResponse = Type.Object({
  id: Id,
  email: Type.Optional(Type.String()),
  sign_in_id: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes)
})

export const UpdateSaasUserEmailRequest = Type.Object({ email: Type.String() })
export const UpdateSaasUserSignInIdRequest = Type.Object({ sign_in_id: Type.String() })
export const UpdateAttributesRequest = Type.Object({ attributes: Attributes })

/** Response of POST /v1/auth/tenants/{tenant_id}/users (the tenant User object). */
export const CreateTenantUserResponse = Type.Object({
  id: Id,
  email: Type.Optional(Type.String()),
  sign_in_id: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes),
  envs: Type.Optional(Type.Array(Type.Object({
    id: EnvId,
    roles: Type.Optional(Type.Array(Type.Object({ role_name: Id })))
  })))
})

/** Request of POST /v1/auth/tenants/{tenant_id}/users: the attributes when the response has none. */
export const CreateTenantUserRequest = Type.Object({ attributes: Type.Optional(Attributes) })

export const CreateTenantUserRolesRequest = Type.Object({ role_names: Type.Array(Id, { maxItems: MAX_ROLE_NAMES }) })

export const CreateRoleRequest = Type.Object({ role_name: Id, display_name: Type.String() })
export const UpdateRoleRequest = Type.Object({ display_name: Type.String() })

export const CreateEnvRequest = Type.Object({ id: EnvId, name: Type.String(), display_name: Type.Optional(Type.String()) })
export const UpdateEnvRequest = Type.Object({ name: Type.String(), display_name: Type.Optional(Type.String()) })

export type CreateTenantUserResponse = Static<typeof CreateTenantUserResponse>
