import { Type, type Static } from '@sinclair/typebox'
import { MAX_EVENT_TYPE_LENGTH, MAX_ID_LENGTH } from './ids.js'

/** A JSON string or an already-parsed JSON object: SaaSus sent strings in 2026 and objects in 2023. */
export const JsonStringOrObject = Type.Union([Type.String(), Type.Object({})])

// ISO-8601 instant as EventBridge writes it ("2026-05-19T02:22:58Z"); fractions and offsets are tolerated.
export const IsoInstant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'ISO-8601 instant'
})

/** The EventBridge envelope around a SaaSus event. Unknown fields are allowed everywhere. */
export const Envelope = Type.Object({
  version: Type.Optional(Type.String()),
  id: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH }),
  'detail-type': Type.Optional(Type.String()),
  source: Type.Optional(Type.String()),
  account: Type.Optional(Type.String()),
  time: IsoInstant,
  region: Type.Optional(Type.String()),
  resources: Type.Optional(Type.Array(Type.Unknown())),
  detail: Type.Object({
    event_type: Type.String({ minLength: 1, maxLength: MAX_EVENT_TYPE_LENGTH }),
    event: JsonStringOrObject,
    trace_id: Type.Optional(Type.String())
  })
}, { $id: 'Envelope' })
export type Envelope = Static<typeof Envelope>
