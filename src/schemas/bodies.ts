import { Type, type Static } from '@sinclair/typebox'

// Request and response bodies of the calls this version projects (SaaSus Auth API v1.13.6).
// Only what the projection reads is required; unknown fields are allowed.

const Attributes = Type.Record(Type.String(), Type.Unknown())

/** Response of POST /v1/auth/tenants (the Tenant object). */
export const CreateTenantResponse = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String(),
  attributes: Attributes,
  back_office_staff_email: Type.String()
})
export type CreateTenantResponse = Static<typeof CreateTenantResponse>

/** Request of PATCH /v1/auth/tenants/{tenant_id}: every field is required by the API. */
export const UpdateTenantRequest = Type.Object({
  name: Type.String(),
  attributes: Attributes,
  back_office_staff_email: Type.String()
})
export type UpdateTenantRequest = Static<typeof UpdateTenantRequest>

/** Response of POST /v1/auth/users (the SaasUser object). */
export const CreateSaasUserResponse = Type.Object({
  id: Type.String({ minLength: 1 }),
  email: Type.Optional(Type.String()),
  sign_in_id: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes)
})
export type CreateSaasUserResponse = Static<typeof CreateSaasUserResponse>

/** Request of PATCH /v1/auth/users/{user_id}/email. */
export const UpdateSaasUserEmailRequest = Type.Object({ email: Type.String() })
export type UpdateSaasUserEmailRequest = Static<typeof UpdateSaasUserEmailRequest>

/** Request of PATCH /v1/auth/users/{user_id}/attributes. */
export const UpdateSaasUserAttributesRequest = Type.Object({ attributes: Attributes })
export type UpdateSaasUserAttributesRequest = Static<typeof UpdateSaasUserAttributesRequest>
