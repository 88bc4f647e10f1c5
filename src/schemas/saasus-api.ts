import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { EnvId } from './bodies.js'

// Responses of the SaaSus Auth API calls a reconciliation snapshot reads (GET under /v1/auth), from SaaSus's
// published OpenAPI definition (v1.13.2, test/fixtures/saasus-authapi.yml). Only what the snapshot uses is
// required, and nothing the definition allows is refused (ids may be any string, env ids any uint64 up to
// what is kept exactly: MAX_ENV_ID); unknown fields are allowed, since SaaSus adds fields without notice.

const Attributes = Type.Record(Type.String(), Type.Unknown())
const NullableString = Type.Union([Type.String(), Type.Null()])
const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]))

export const SaasusTenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  attributes: Attributes,
  back_office_staff_email: Type.String(),
  plan_histories: Type.Array(Type.Unknown()),
  plan_id: Type.Optional(NullableString),
  billing_info: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  next_plan_id: Nullable(Type.String()),
  using_next_plan_from: Nullable(Type.Integer()),
  next_plan_tax_rate_id: Nullable(Type.String()),
  proration_behavior: Nullable(Type.String()),
  delete_usage: Nullable(Type.Boolean())
})
export type SaasusTenant = Static<typeof SaasusTenant>

export const SaasusSaasUser = Type.Object({
  id: Type.String(),
  email: Type.String(),
  attributes: Attributes,
  sign_in_id: Type.Optional(NullableString)
})
export type SaasusSaasUser = Static<typeof SaasusSaasUser>

/** One membership: a user in one tenant, with that tenant's attributes and roles per env. */
export const SaasusTenantUser = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  email: Type.String(),
  attributes: Attributes,
  envs: Type.Array(Type.Object({
    id: EnvId,
    name: Type.Optional(Type.String()),
    roles: Type.Array(Type.Object({ role_name: Type.String() }))
  }))
})
export type SaasusTenantUser = Static<typeof SaasusTenantUser>

export const SaasusRole = Type.Object({ role_name: Type.String(), display_name: Type.String() })
export type SaasusRole = Static<typeof SaasusRole>

export const SaasusEnv = Type.Object({ id: EnvId, name: Type.String(), display_name: Type.Optional(NullableString) })
export type SaasusEnv = Static<typeof SaasusEnv>

// The answers are `{ tenants }`, `{ users }` (for /users and /tenants/all/users), `{ roles }` and `{ envs }`:
// the client streams them and checks each item against the schemas above (SaasusClient.list).

/** SaaSus's error body. */
export const SaasusError = Type.Object({ type: Type.Optional(Type.String()), message: Type.Optional(Type.String()) })
