import { Type, type Static } from '@sinclair/typebox'
import { MAX_ID_LENGTH } from './ids.js'
import { MAX_INT32, ParamInteger, ParamText } from './params.js'

// The operator console's forms and links (issue 15). A form sends every field, empty ones as '': the
// routes read '' as "not set". Lengths are bounded like the API's.

const text = (maxLength: number) => Type.Optional(ParamText({ maxLength }))

/** A time the filter form sends (datetime-local, read as UTC) or a full ISO 8601 time. */
const TIME = '^(|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d(\\.\\d{1,3})?)?(Z|[+-]\\d\\d:\\d\\d)?)$'

export const EventsQuery = Type.Object({
  type: text(100),
  outcome: text(40),
  tenant: text(MAX_ID_LENGTH),
  user: text(MAX_ID_LENGTH),
  from: Type.Optional(ParamText({ pattern: TIME, maxLength: 40 })),
  to: Type.Optional(ParamText({ pattern: TIME, maxLength: 40 })),
  /** Where the page starts: the cursor of the previous page's last event. */
  after: text(MAX_ID_LENGTH + 64)
}, { additionalProperties: false })
export type EventsQuery = Static<typeof EventsQuery>

export const IdParams = Type.Object({ id: ParamText({ minLength: 1, maxLength: MAX_ID_LENGTH }) })
export type IdParams = Static<typeof IdParams>

// Quarantine ids are a 32-bit serial column on PostgreSQL.
export const QuarantineParams = Type.Object({ id: ParamInteger({ minimum: 1, maximum: MAX_INT32 }) })
export type QuarantineParams = Static<typeof QuarantineParams>

export const QuarantineQuery = Type.Object({ before: Type.Optional(ParamInteger({ minimum: 1, maximum: MAX_INT32 })) }, { additionalProperties: false })
export type QuarantineQuery = Static<typeof QuarantineQuery>

export const SearchQuery = Type.Object({ q: text(MAX_ID_LENGTH), after: text(MAX_ID_LENGTH) }, { additionalProperties: false })
export type SearchQuery = Static<typeof SearchQuery>

export const PageQuery = Type.Object({ after: text(MAX_ID_LENGTH) }, { additionalProperties: false })
export type PageQuery = Static<typeof PageQuery>

export const SignInBody = Type.Object({ password: Type.String({ maxLength: 1024 }) })
export type SignInBody = Static<typeof SignInBody>

/** A state-changing form: its CSRF token (checked by the route, so that a missing one is 403 like a wrong one). */
export const CsrfBody = Type.Object({ csrf: text(200) })
export type CsrfBody = Static<typeof CsrfBody>
