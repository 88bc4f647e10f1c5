import { sqltag as sql } from '@prisma/client/runtime/client'
import type { DecodedEvent } from '../../events/decode.js'
import type { Change, Plan } from '../../events/changes.js'
import { eventSubjects } from '../../events/subjects.js'
import { ENTITIES, type Entity } from '../../events/entities.js'
import { collapse, type Winner } from './collapse.js'
import type { ColumnType, Dialect } from '../engines/dialect.js'
import { attributesUpsert, registerUpsert } from './guarded-upsert.js'
import { insertPlanChanges, refoldPlans } from './plan-write.js'
import { FeedWrite, loadLockedFeedRows, recordFeed, rowsAfter, type EntryCause, type EventRef, type Queryable, type StoredRow } from '../feed/feed-store.js'
import { scopeOf, type FeedScope } from '../feed/feed-scope.js'
import { scopeKeys } from '../feed/feed-locks.js'
import { subjectId, type FeedEntity } from '../feed/feed-views.js'

export { FeedWrite, type EventRef, type Queryable } from '../feed/feed-store.js'

export type Outcome = 'applied' | 'stale' | 'duplicate' | 'ignored'

export interface BatchItem {
  event: DecodedEvent
  plan: Plan
  /**
   * `event.redacted` as JSON text, when the sender encoded it already (SQLite's writer thread is sent the
   * text, one string to copy, instead of the object graph: engines/sqlite-writer.ts); else encoded here.
   */
  raw?: string
}

/**
 * What caused a write: events (`events[i]` wrote `changes[i]`), a rebuild, or a reconciliation run. Every
 * write goes through applyChanges with its cause, which the change feed records beside each entry.
 */
export type WriteCause = { kind: 'event', events: EventRef[] } | { kind: 'rebuild' } | { kind: 'reconcile', runId: string }
  /** A reserved plan taking effect at its instant (src/plans/activator.ts): no event, SaaSus sends none then. */
  | { kind: 'scheduled', at: Date }

/** The feed's name for the entity a table holds. */
const FEED_ENTITY: Record<Entity, FeedEntity> = {
  tenant: 'tenant', user: 'user', tenant_user: 'membership', tenant_user_role: 'role_assignment', tenant_user_env: 'membership_env', role: 'role', env: 'env'
}
const ATTRIBUTE_OWNER = { tenant: 'tenant', user: 'user', tenant_user: 'membership' } as const

/** The feed subjects whose visible state also depends on a subject's rows: below a tenant, user or membership. */
function parentsOf (entity: FeedEntity, key: Record<string, string | number>): string[] {
  if (entity !== 'membership' && entity !== 'role_assignment' && entity !== 'membership_env') return []
  const parents = [subjectId('tenant', { id: key.tenant_id }), subjectId('user', { id: key.user_id })]
  if (entity !== 'membership') parents.push(subjectId('membership', { tenant_id: key.tenant_id, user_id: key.user_id }))
  return parents
}

/**
 * The cause of an entry: for events, the event with the newest write that landed on the entity or on a
 * row above it (a tenant delete hides the memberships below it). Several events of one batch that change
 * one entity make one entry, with the newest of them as its cause.
 */
function entryCause (cause: WriteCause, landed: Map<string, Winner[]>, change: { id: string, entity: FeedEntity, key: Record<string, string | number> }): EntryCause {
  if (cause.kind === 'reconcile') return { cause: 'reconcile', runId: cause.runId }
  if (cause.kind === 'rebuild') return { cause: 'rebuild' }
  if (cause.kind === 'scheduled') return { cause: 'scheduled', at: cause.at }
  const candidates = [change.id, ...parentsOf(change.entity, change.key)].flatMap(id => landed.get(id) ?? [])
  /* c8 ignore next -- an entity changes only through a write that landed on it or above it */
  if (candidates.length === 0) return { cause: 'event' }
  const newest = candidates.reduce((a, b) => (b.version > a.version ? b : a))
  return { cause: 'event', event: cause.events[newest.owner] }
}

/** The tenant registers a plan is folded from (events/plan-state.ts). */
const PLAN_REGISTERS = ['plan_id', 'plan_histories', 'next_plan']

const rowId = (values: unknown[]): string => JSON.stringify(values.map(String))

/**
 * Concurrent batches (PostgreSQL) lock rows in one global order, key order within each table, so that two
 * batches touching the same rows wait for each other instead of deadlocking. Keys are computed once per
 * item, not once per comparison.
 */
function sortedBy<T> (list: T[], key: (item: T) => string): Array<{ item: T, id: string }> {
  return list.map(item => ({ item, id: key(item) })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/**
 * The version floor: the version of the newest reconciliation snapshot applied whole; and `pending_version`, the
 * version of the snapshot a run is applying ('' when none). On PostgreSQL the row stays share-locked until
 * the transaction ends, so a run raising the floor (or setting `pending_version`) waits for the writes that read the
 * old one.
 */
export interface Floor {
  version: string
  pending_version: string
}

export async function versionFloor (db: Queryable, dialect: Dialect): Promise<Floor> {
  const rows = await db.$queryRaw<Floor[]>(sql`SELECT "version", "pending_version" FROM "version_floor" WHERE "id" = 1${dialect.forShare}`)
  // The migration that created the table inserted its one row.
  return rows[0]
}

/**
 * The version floor (share-locked, as versionFloor), with the write's locks taken first in the same statement
 * (feed-locks.ts: the keys of the entities `scope` reads and writes; PostgreSQL only): one round trip.
 */
async function floorAndLocks (db: Queryable, dialect: Dialect, feed: FeedWrite | null, scope: FeedScope): Promise<Floor> {
  if (feed === null || !dialect.concurrentWriters) return await versionFloor(db, dialect)
  const rows = await db.$queryRaw<Floor[]>(sql`SELECT "version", "pending_version", ${feed.locks.take(scopeKeys(scope))} AS "locks"
    FROM "version_floor" WHERE "id" = 1${dialect.forShare}`)
  return rows[0]
}

/** A row's key as the reconcile journal holds it: JSON of its key's values, in key order, as text. */
export const journalKey = (entity: Entity, key: Record<string, unknown>): string => JSON.stringify(ENTITIES[entity].keys.map(k => String(key[k])))

/**
 * Notes rows that writes older than the snapshot a run is applying changed, for that run to compare again
 * before it raises the floor (reconciler.ts): the run may have compared them already.
 */
async function journal (db: Queryable, dialect: Dialect, rows: Map<string, [Entity, string]>): Promise<void> {
  if (rows.size === 0) return
  const sorted = [...rows.values()].sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1))
  await db.$executeRaw(sql`INSERT INTO "reconcile_journal" ("entity", "key") ${dialect.rows(['text', 'text'], sorted)} ON CONFLICT DO NOTHING`)
}

/**
 * Writes collapsed changes with one guarded statement per table; returns the indexes of the change lists
 * (events, or items of a reconciliation) that wrote at least one register or attribute key that is now
 * stored with their version. A change older than the version floor is stale: the snapshot that set the
 * floor already holds its effect (or what replaced it), even where that snapshot wrote nothing because the
 * value was already right.
 */
export async function applyChanges (
  db: Queryable, dialect: Dialect, changes: Change[][], cause: WriteCause, feed: FeedWrite | null
): Promise<Set<number>> {
  const applied = new Set<number>()
  // The locks are taken with the floor, so for everything the changes touch, the floor's cut included.
  const all = collapse(changes)
  if (all.rows.length === 0 && all.attributes.length === 0 && all.plans.length === 0) return applied
  const { version: floor, pending_version: pending } = await floorAndLocks(db, dialect, feed, scopeOf(all.rows, all.attributes, all.plans))
  const stale = floor !== '' && changes.some(list => list.some(c => c.version < floor))
  const { rows, attributes, plans } = stale ? collapse(changes.map(list => list.filter(c => c.version >= floor))) : all
  if (rows.length === 0 && attributes.length === 0 && plans.length === 0) return applied

  // The change feed: the visible state of what the batch touches, read before its upserts under the locks of
  // what it concerns (feed-store.ts); the state after is that with the rows the upserts returned. `null`
  // (a rebuild's pages) leaves the feed to the caller.
  const scope = scopeOf(rows, attributes, plans)
  const before = feed === null ? undefined : await loadLockedFeedRows(db, dialect, scope, rows, feed.locks)
  const landed = new Map<string, Winner[]>()
  const written: StoredRow[] = []
  const planRegistersWritten = new Set<string>()
  const older = new Map<string, [Entity, string]>()
  const land = (id: string, winner: Winner, entity: Entity, key: Record<string, unknown>): void => {
    applied.add(winner.owner)
    landed.set(id, [...(landed.get(id) ?? []), winner])
    if (winner.version < pending) older.set(id, [entity, journalKey(entity, key)])
  }

  // Tables in one fixed order (ENTITIES'), rows in key order within each: see sortedBy.
  for (const entity of Object.keys(ENTITIES) as Entity[]) {
    const def = ENTITIES[entity]
    const list = sortedBy(rows.filter(row => row.entity === entity), row => rowId(def.keys.map(k => row.key[k])))
    if (list.length === 0) continue
    const returned = await db.$queryRaw<Array<Record<string, unknown> & StoredRow>>(registerUpsert(entity, list.map(r => r.item), dialect))
    written.push(...returned)
    const byId = new Map(list.map(({ item, id }) => [id, item]))
    for (const stored of returned) {
      const row = byId.get(rowId(def.keys.map(k => stored[k])))!
      const subject = subjectId(FEED_ENTITY[entity], Object.fromEntries(def.keys.map(k => [k, row.key[k]])))
      for (const [register, winner] of row.registers) if (stored[`${register}_v`] === winner.version) land(subject, winner, entity, row.key)
      if (entity === 'tenant' && PLAN_REGISTERS.some(r => row.registers.has(r))) planRegistersWritten.add(row.key.id as string)
      if (row.deleted !== undefined && stored.deleted_v === row.deleted.version) land(subject, row.deleted, entity, row.key)
    }
  }

  if (attributes.length > 0) {
    const list = sortedBy(attributes, a => rowId([a.scope, a.tenantId, a.userId, a.key]))
    const returned = await db.$queryRaw<Array<Record<string, unknown> & StoredRow>>(attributesUpsert(list.map(a => a.item), dialect))
    written.push(...returned)
    const byId = new Map(list.map(({ item, id }) => [id, item]))
    for (const stored of returned) {
      const a = byId.get(rowId([stored.scope, stored.tenant_id, stored.user_id, stored.key]))!
      const owner = ATTRIBUTE_OWNER[a.scope as keyof typeof ATTRIBUTE_OWNER]
      const key: Record<string, string> = owner === 'membership' ? { tenant_id: a.tenantId, user_id: a.userId } : { id: owner === 'tenant' ? a.tenantId : a.userId }
      if (stored.v === a.winner.version) land(subjectId(owner, key), a.winner, a.scope as Entity, key)
    }
  }

  // Plan changes, then the fold of every tenant whose plan changes or plan registers moved (plan-write.ts).
  const refold = new Set<string>(planRegistersWritten)
  if (plans.length > 0) {
    const byId = new Map(plans.map(p => [JSON.stringify([p.tenantId, p.version]), p]))
    for (const { tenant_id: tenantId, v } of await insertPlanChanges(db, dialect, plans)) {
      const plan = byId.get(JSON.stringify([tenantId, v]))!
      refold.add(tenantId)
      land(subjectId('tenant', { id: tenantId }), { value: null, version: plan.version, owner: plan.owner }, 'tenant', { id: tenantId })
    }
  }
  const folded = await refoldPlans(db, dialect, [...refold])
  written.push(...folded.rows)
  if (feed !== null && folded.soonestDue !== undefined) feed.planDueAt = Math.min(folded.soonestDue, feed.planDueAt ?? folded.soonestDue)

  await journal(db, dialect, older)
  if (feed !== null && applied.size > 0) {
    const after = rowsAfter(before!, written)
    await recordFeed(db, dialect, before!, after, change => entryCause(cause, landed, change), feed)
  }
  return applied
}

const EVENT_TYPES: ColumnType[] = ['text', 'text', 'timestamp', 'text', 'text', 'text', 'text', 'integer', 'timestamp', 'text', 'json_text', 'text', 'text']

/** The inbox row's `raw`: the redacted event as JSON text. */
export const rawText = ({ event, raw }: BatchItem): string => raw ?? JSON.stringify(event.redacted)

/**
 * Records a batch of events and applies their changes, inside the caller's transaction. Every event's inbox
 * row goes in with one statement; an envelope id or SaaSus log_id already there (or earlier in the batch)
 * makes it a duplicate, which writes nothing. Each row names the tenant and user the call is about
 * (events/subjects.ts), whatever its outcome, for the console's filters. Outcomes come back in the batch's order.
 */
export async function writeBatch (db: Queryable, dialect: Dialect, items: BatchItem[], receivedAt: Date, feed: FeedWrite | null): Promise<Outcome[]> {
  // An envelope id or log_id seen earlier in the batch is a duplicate of that earlier event (arrival order).
  const ids = new Set<string>()
  const logIds = new Set<string>()
  const first = items.map(({ event }) => {
    const isFirst = !ids.has(event.id) && !logIds.has(event.logId)
    ids.add(event.id)
    logIds.add(event.logId)
    return isFirst
  })
  const rows = sortedBy(items.filter((_, i) => first[i]), item => item.event.id).map(({ item }) => {
    const { event, plan } = item
    const { tenantId, userId } = eventSubjects(event, plan)
    return [event.id, event.eventType, event.time, event.logId, event.traceId, event.uri, event.method,
      event.httpStatus, receivedAt, plan.kind === 'ignored' ? 'ignored' : 'applied', rawText(item), tenantId, userId]
  })
  const returned = await db.$queryRaw<Array<{ id: string }>>(sql`INSERT INTO "events"
    ("id", "event_type", "time", "log_id", "trace_id", "uri", "method", "http_status", "received_at", "outcome", "raw", "tenant_id", "user_id")
    ${dialect.rows(EVENT_TYPES, rows)} ON CONFLICT DO NOTHING RETURNING "id"`)
  const inserted = new Set(returned.map(({ id }) => id))
  const recorded = items.map(({ event }, i) => first[i] && inserted.has(event.id))
  const changes = items.map(({ plan }, i) => recorded[i] && plan.kind === 'changes' ? plan.changes : [])
  const events = items.map(({ event }) => ({ id: event.id, type: event.eventType, time: event.time }))
  const applied = await applyChanges(db, dialect, changes, { kind: 'event', events }, feed)

  const outcomes: Outcome[] = items.map(({ plan }, i) =>
    !recorded[i] ? 'duplicate' : plan.kind === 'ignored' ? 'ignored' : applied.has(i) ? 'applied' : 'stale')
  const stale = items.filter((_, i) => outcomes[i] === 'stale').map(({ event }) => [event.id])
  if (stale.length > 0) {
    await db.$executeRaw(sql`UPDATE "events" SET "outcome" = ${'stale'} WHERE "id" IN (${dialect.rows(['text'], stale)})`)
  }
  return outcomes
}
