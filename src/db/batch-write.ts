import { sqltag as sql } from '@prisma/client/runtime/client'
import type { PrismaClient } from '../generated/sqlite/client.js'
import type { DecodedEvent } from '../events/decode.js'
import type { Change, Plan } from '../events/changes.js'
import { ENTITIES, type Entity } from '../events/entities.js'
import { collapse } from './collapse.js'
import type { ColumnType, Dialect } from './dialect.js'
import { attributesUpsert, registerUpsert } from './guarded-upsert.js'

export type Outcome = 'applied' | 'stale' | 'duplicate' | 'ignored'

export interface BatchItem {
  event: DecodedEvent
  plan: Plan
}

/**
 * What caused a write: an event, or a reconciliation run. Every write goes through applyChanges with its
 * cause, so that what is written and why can be told apart later (a change feed) without another path.
 */
export type WriteCause = { kind: 'event' } | { kind: 'rebuild' } | { kind: 'reconcile', runId: string }

/** The part of a Prisma client (or transaction) this module uses. */
export type Queryable = Pick<PrismaClient, '$executeRaw' | '$queryRaw'>

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
 * The version floor: the version of the newest reconciliation snapshot being or having been applied.
 * On PostgreSQL the row stays share-locked until the transaction ends, so a run raising the floor waits
 * for the writes that read the old one.
 */
export async function versionFloor (db: Queryable, dialect: Dialect): Promise<string> {
  const rows = await db.$queryRaw<Array<{ version: string }>>(sql`SELECT "version" FROM "version_floor" WHERE "id" = 1${dialect.forShare}`)
  // The migration that created the table inserted its one row.
  return rows[0].version
}

/**
 * Writes collapsed changes with one guarded statement per table; returns the indexes of the change lists
 * (events, or items of a reconciliation) that wrote at least one register or attribute key that is now
 * stored with their version. A change older than the version floor is stale: the snapshot that set the
 * floor already holds its effect (or what replaced it), even where that snapshot wrote nothing because the
 * value was already right.
 */
export async function applyChanges (db: Queryable, dialect: Dialect, changes: Change[][], cause: WriteCause): Promise<Set<number>> {
  const floor = await versionFloor(db, dialect)
  const current = floor === '' ? changes : changes.map(list => list.filter(c => c.version >= floor))
  const { rows, attributes } = collapse(current)
  const applied = new Set<number>()

  // Tables in one fixed order (ENTITIES'), rows in key order within each: see sortedBy.
  for (const entity of Object.keys(ENTITIES) as Entity[]) {
    const def = ENTITIES[entity]
    const list = sortedBy(rows.filter(row => row.entity === entity), row => rowId(def.keys.map(k => row.key[k])))
    if (list.length === 0) continue
    const written = await db.$queryRaw<Array<Record<string, unknown>>>(registerUpsert(entity, list.map(r => r.item), dialect))
    const byId = new Map(list.map(({ item, id }) => [id, item]))
    for (const stored of written) {
      const row = byId.get(rowId(def.keys.map(k => stored[k])))!
      for (const [register, winner] of row.registers) if (stored[`${register}_v`] === winner.version) applied.add(winner.owner)
      if (row.deleted !== undefined && stored.deleted_v === row.deleted.version) applied.add(row.deleted.owner)
    }
  }

  if (attributes.length > 0) {
    const list = sortedBy(attributes, a => rowId([a.scope, a.tenantId, a.userId, a.key]))
    const written = await db.$queryRaw<Array<Record<string, unknown>>>(attributesUpsert(list.map(a => a.item), dialect))
    const byId = new Map(list.map(({ item, id }) => [id, item]))
    for (const stored of written) {
      const a = byId.get(rowId([stored.scope, stored.tenant_id, stored.user_id, stored.key]))!
      if (stored.v === a.winner.version) applied.add(a.winner.owner)
    }
  }
  return applied
}

const EVENT_TYPES: ColumnType[] = ['text', 'text', 'timestamp', 'text', 'text', 'text', 'text', 'integer', 'timestamp', 'text', 'json']

/**
 * Records a batch of events and applies their changes, inside the caller's transaction. Every event's inbox
 * row goes in with one statement; an envelope id or SaaSus log_id already there (or earlier in the batch)
 * makes it a duplicate, which writes nothing. Outcomes come back in the batch's order.
 */
export async function writeBatch (db: Queryable, dialect: Dialect, items: BatchItem[], receivedAt: Date): Promise<Outcome[]> {
  // An envelope id or log_id seen earlier in the batch is a duplicate of that earlier event (arrival order).
  const ids = new Set<string>()
  const logIds = new Set<string>()
  const first = items.map(({ event }) => {
    const isFirst = !ids.has(event.id) && !logIds.has(event.logId)
    ids.add(event.id)
    logIds.add(event.logId)
    return isFirst
  })
  const rows = sortedBy(items.filter((_, i) => first[i]), item => item.event.id).map(({ item: { event, plan } }) => [
    event.id, event.eventType, event.time, event.logId, event.traceId, event.uri, event.method,
    event.httpStatus, receivedAt, plan.kind === 'ignored' ? 'ignored' : 'applied', event.redacted
  ])
  const returned = await db.$queryRaw<Array<{ id: string }>>(sql`INSERT INTO "events"
    ("id", "event_type", "time", "log_id", "trace_id", "uri", "method", "http_status", "received_at", "outcome", "raw")
    ${dialect.rows(EVENT_TYPES, rows)} ON CONFLICT DO NOTHING RETURNING "id"`)
  const inserted = new Set(returned.map(({ id }) => id))
  const recorded = items.map(({ event }, i) => first[i] && inserted.has(event.id))
  const changes = items.map(({ plan }, i) => recorded[i] && plan.kind === 'changes' ? plan.changes : [])
  const applied = await applyChanges(db, dialect, changes, { kind: 'event' })

  const outcomes: Outcome[] = items.map(({ plan }, i) =>
    !recorded[i] ? 'duplicate' : plan.kind === 'ignored' ? 'ignored' : applied.has(i) ? 'applied' : 'stale')
  const stale = items.filter((_, i) => outcomes[i] === 'stale').map(({ event }) => [event.id])
  if (stale.length > 0) {
    await db.$executeRaw(sql`UPDATE "events" SET "outcome" = ${'stale'} WHERE "id" IN (${dialect.rows(['text'], stale)})`)
  }
  return outcomes
}
