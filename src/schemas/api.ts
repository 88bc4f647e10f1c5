import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { MAX_ID_LENGTH } from './ids.js'
import { ParamInteger, ParamText } from './params.js'

// Request and response bodies of this service's own HTTP API.

export const Outcome = Type.Union([
  Type.Literal('applied'), Type.Literal('stale'), Type.Literal('duplicate'), Type.Literal('ignored'), Type.Literal('rejected'),
  Type.Literal('unconfirmed')
])

export const EventsResponse = Type.Object({
  results: Type.Array(Type.Object({
    id: Type.Union([Type.String(), Type.Null()], { description: 'envelope id; null for an item without one' }),
    outcome: Outcome,
    error: Type.Optional(Type.Object({ field: Type.String(), message: Type.String() }))
  }))
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

export const IdParams = Type.Object({ id: ParamText({ minLength: 1, maxLength: MAX_ID_LENGTH }) })

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const AttributeObject = Type.Record(Type.String(), Type.Unknown())

export const TenantResponse = Type.Object({
  id: Type.String(),
  name: Nullable(Type.String()),
  attributes: AttributeObject,
  back_office_staff_email: Nullable(Type.String()),
  plan_id: Nullable(Type.String()),
  plan_histories: Type.Unknown(),
  next_plan: Type.Unknown({ description: 'the plan reservation: next_plan_id, using_next_plan_from, next_plan_tax_rate_id, proration_behavior, delete_usage' }),
  billing_info: Type.Unknown(),
  users: Type.Array(Type.String(), { description: 'ids of the users who are members, sorted' }),
  updated_at: Type.String({ description: 'time of the newest event that changed this tenant' })
})

export const UserResponse = Type.Object({
  id: Type.String(),
  email: Nullable(Type.String()),
  sign_in_id: Nullable(Type.String()),
  attributes: AttributeObject,
  tenants: Type.Array(Type.Object({
    tenant_id: Type.String(),
    attributes: AttributeObject,
    envs: Type.Array(Type.Object({ env_id: Type.Integer(), roles: Type.Array(Type.String()) }))
  })),
  updated_at: Type.String({ description: 'time of the newest event that changed this user' })
})

export const ListQuery = Type.Object({
  limit: ParamInteger({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(ParamText({ minLength: 1, maxLength: 256, description: 'next_cursor of the previous page' }))
})

export const TenantPage = Type.Object({ items: Type.Array(TenantResponse), next_cursor: Nullable(Type.String()) })
export const UserPage = Type.Object({ items: Type.Array(UserResponse), next_cursor: Nullable(Type.String()) })

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

const Count = Type.Integer({ minimum: 0 })
const EntityDrift = Type.Object({
  created: Count,
  updated: Count,
  deleted: Count,
  unchanged: Count,
  refused: Type.Optional(Count),
  ids: Type.Object({ created: Type.Array(Type.String()), updated: Type.Array(Type.String()), deleted: Type.Array(Type.String()) },
    { description: 'the first few ids of each change' }),
  refusals: Type.Optional(Type.Array(Type.Object({ id: Nullable(Type.String()), field: Type.String(), reason: Type.String() }),
    { description: 'the first few items of SaaSus\'s answers this service could not take (left as the copy had them): the row\'s id if the item carried it, where, and why' }))
})

export const ReconcileRun = Type.Object({
  id: Type.String(),
  started_at: Type.String(),
  ended_at: Nullable(Type.String()),
  snapshot_version: Nullable(Type.String({ description: 'the version every write of the run carries: start time minus RECONCILE_MARGIN' })),
  dry_run: Type.Boolean(),
  trigger: Type.String({ description: 'manual (npm run reconcile), start or interval (the service)' }),
  outcome: Type.String({ description: 'running, succeeded, failed, skipped (another run held the lease), abandoned (its process died: its lease expired unrenewed and a later run marked it) or refused (it would have deleted more than RECONCILE_MAX_DELETE_FRACTION of the copy; nothing written)' }),
  counts: Nullable(Type.Record(Type.String(), EntityDrift, { description: 'per entity: tenants, users, memberships, role_assignments, membership_envs, roles, envs' })),
  error: Nullable(Type.String())
})

export const ReconcileRunPage = Type.Object({ items: Type.Array(ReconcileRun), next_cursor: Nullable(Type.String()) })

export const ChangesQuery = Type.Object({
  after: ParamInteger({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'the cursor of the last entry handled (next_after of the previous page); 0 from the beginning' }),
  limit: ParamInteger({ minimum: 1, maximum: 1000, default: 100 }),
  wait: ParamInteger({ minimum: 0, maximum: 30, default: 0, description: 'seconds to hold the request while nothing follows `after` (long poll)' })
})

const FeedKey = Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()]))

export const FeedEntry = Type.Object({
  cursor: Type.Integer({ description: 'in commit order; the entry\'s position in the feed' }),
  entity: Type.Union(['tenant', 'user', 'membership', 'role_assignment', 'membership_env', 'role', 'env'].map(e => Type.Literal(e))),
  key: FeedKey,
  op: Type.Union([Type.Literal('upsert'), Type.Literal('delete')]),
  fields: Nullable(Type.Record(Type.String(), Type.Unknown(), {
    description: 'upsert: the new values of the fields that changed (every field when the entity appears); attributes as {set, removed}'
  })),
  cause: Type.Union([
    Type.Object({ kind: Type.Literal('event'), event_id: Nullable(Type.String()), event_type: Nullable(Type.String()), time: Nullable(Type.String()) }),
    Type.Object({ kind: Type.Literal('reconcile'), run_id: Nullable(Type.String()) }),
    Type.Object({ kind: Type.Literal('rebuild') }),
    Type.Object({ kind: Type.Literal('scheduled'), time: Type.String({ description: 'the instant a reserved plan took effect at (using_next_plan_from)' }) })
  ]),
  recorded_at: Type.String()
})

export const ChangesPage = Type.Object({
  entries: Type.Array(FeedEntry),
  next_after: Type.Integer({ description: 'the `after` to ask for next: the last entry\'s cursor, or `after` itself' })
})

export const GoneResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  oldest_cursor: Type.Integer({ description: 'the oldest `after` still answered: resynchronise from the read API, then follow from it' })
})
