import { Type, type Static } from '@sinclair/typebox'

// Request and response bodies of this service's own HTTP API.

export const Outcome = Type.Union([
  Type.Literal('applied'), Type.Literal('stale'), Type.Literal('duplicate'), Type.Literal('ignored')
])

export const EventsResponse = Type.Object({
  results: Type.Array(Type.Object({ id: Type.String(), outcome: Outcome }))
})
export type EventsResponse = Static<typeof EventsResponse>

/** Every error answer: `field` is a JSON pointer into the request body when one field is to blame. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String())
})
export type ErrorResponse = Static<typeof ErrorResponse>

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) })

export const TenantResponse = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  attributes: Type.Unknown(),
  back_office_staff_email: Type.Union([Type.String(), Type.Null()]),
  updated_at: Type.String({ description: 'time of the newest event that changed this tenant' })
})

export const UserResponse = Type.Object({
  id: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  sign_in_id: Type.Union([Type.String(), Type.Null()]),
  attributes: Type.Unknown(),
  updated_at: Type.String({ description: 'time of the newest event that changed this user' })
})

export const EventRecordResponse = Type.Object({
  id: Type.String(),
  event_type: Type.String(),
  time: Type.String(),
  log_id: Type.Union([Type.String(), Type.Null()]),
  trace_id: Type.Union([Type.String(), Type.Null()]),
  uri: Type.Union([Type.String(), Type.Null()]),
  method: Type.Union([Type.String(), Type.Null()]),
  http_status: Type.Union([Type.Integer(), Type.Null()]),
  received_at: Type.String(),
  outcome: Type.String(),
  event: Type.Unknown({ description: 'the event as received, inner JSON decoded, secrets redacted' })
})
