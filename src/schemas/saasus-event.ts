import { Type, type Static } from '@sinclair/typebox'

const Body = Type.Union([Type.String(), Type.Object({}), Type.Array(Type.Unknown()), Type.Null()])

/** `detail.event` once parsed: the audit record SaaSus writes for one API call. */
export const SaasusEvent = Type.Object({
  log_id: Type.String({ minLength: 1 }),
  date_time: Type.Optional(Type.String()),
  http_status: Type.Union([Type.String({ pattern: '^[0-9]{3}$' }), Type.Integer({ minimum: 100, maximum: 599 })]),
  uri: Type.String({ minLength: 1 }),
  request_method: Type.String({ minLength: 1 }),
  saas_id: Type.Optional(Type.String()),
  api_key: Type.Optional(Type.String()),
  request_body: Type.Optional(Body),
  response_body: Type.Optional(Body)
}, { $id: 'SaasusEvent' })
export type SaasusEvent = Static<typeof SaasusEvent>
