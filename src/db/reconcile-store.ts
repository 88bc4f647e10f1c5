import { join, raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { AttributeValue, Env, ReconcileRun, Role, Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../generated/sqlite/client.js'
import type { Change } from '../events/changes.js'
import { ENTITIES, type Entity } from '../events/entities.js'
import type { Version } from '../events/version.js'
import { applyChanges, FeedWrite, type Queryable, type WriteCause } from './writing/batch-write.js'
import { identifier, type Dialect } from './engines/dialect.js'
import { PROJECTED_TABLES, type Repository, type Transaction } from './repository.js'

// What reconciliation with SaaSus needs from the database: the run records, the lease that lets one run
// write at a time (across processes and replicas), the version floor, and reads of the local state in the
// same transaction as the guarded writes that correct it. The writes themselves go through applyChanges,
// the path events take.

/** `abandoned`: a run found `running` by a later run that took the lease after it expired (its process died). */
/** `refused`: the snapshot would have deleted too much of the copy (the mass-deletion guard); nothing written. */
export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'skipped' | 'abandoned' | 'refused'

/** A row the reconcile journal holds: written by a write older than the snapshot being applied. */
export interface JournalEntry {
  entity: Entity
  /** JSON of the key's values in key order, as text (journalKey in batch-write.ts). */
  key: string
}

export interface RunRecord {
  id: string
  started_at: string
  ended_at: string | null
  snapshot_version: string | null
  dry_run: boolean
  trigger: string
  outcome: string
  counts: unknown
  error: string | null
}

/** The local state a chunk of a snapshot is compared with, read inside the chunk's transaction. */
export interface ChunkReader {
  tenants: (ids: string[]) => Promise<Tenant[]>
  users: (ids: string[]) => Promise<User[]>
  /** Memberships, role assignments, env listings without role and tenant-user attribute keys of these users. */
  memberships: (userIds: string[]) => Promise<{ memberships: TenantUser[], roles: TenantUserRole[], listings: TenantUserEnv[], attributes: AttributeValue[] }>
  /** Attribute keys of these tenants (scope tenant) or users (scope user). */
  attributes: (scope: 'tenant' | 'user', ids: string[]) => Promise<AttributeValue[]>
  roles: () => Promise<Role[]>
  envs: () => Promise<Env[]>
  /** Writes through the guarded upserts; returns the indexes of the lists that wrote something. */
  apply: (changes: Change[][]) => Promise<Set<number>>
  /** Removes these entries from the reconcile journal (they are compared in this transaction). */
  forget: (entries: JournalEntry[]) => Promise<void>
}

/** Thrown inside a dry run's transaction to roll it back after computing what it would have done. */
class DryRun<T> extends Error {
  constructor (readonly result: T) { super('dry run') }
}

const EPOCH = new Date(0)
/**
 * PostgreSQL, for a chunk's transaction only: a random page read costs 1.1 sequential ones, PostgreSQL's
 * usual advice for data held in memory, as these tables are. At the default 4, the lists bound as JSON
 * (estimated at 100 rows whatever their length) made it scan the 10,000 tenants whole in every chunk's
 * feed read rather than probe their index (at half the bench's size: 6.5 ms instead of 3.0).
 */
const CHUNK_SETTINGS = "SELECT set_config('random_page_cost', '1.1', true)"
const ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"
/**
 * SQLite, first statement of a chunk: takes the write lock, as an event batch's first statement (an
 * insert) does. A chunk that read first would hold a read snapshot, and its first write would fail with
 * SQLITE_BUSY_SNAPSHOT whenever another connection (the service beside `npm run reconcile`) had committed
 * since; waiting for the lock (busy_timeout) instead never fails for that.
 */
const SQLITE_WRITE_LOCK = 'UPDATE "version_floor" SET "pending_version" = "pending_version" WHERE 0 = 1'
/** The entities whose rows carry attribute keys (attribute_values). */
const ATTRIBUTE_HOLDERS: Entity[] = ['tenant', 'user', 'tenant_user']

const runRecord = (r: ReconcileRun): RunRecord => ({
  id: r.id,
  started_at: r.startedAt.toISOString(),
  ended_at: r.endedAt?.toISOString() ?? null,
  snapshot_version: r.snapshotVersion,
  dry_run: r.dryRun,
  trigger: r.trigger,
  outcome: r.outcome,
  counts: r.counts,
  error: r.error
})

export interface ReconcileStoreOptions {
  /**
   * PostgreSQL: chunk transactions commit without waiting for their WAL to reach the disk
   * (`synchronous_commit = off`), which then overlaps with the next chunk's work. See
   * RECONCILE_SYNCHRONOUS_COMMIT in docs/reconciliation.md for what a database server crash can then lose.
   */
  asyncCommit?: boolean
}

export class ReconcileStore {
  constructor (readonly repository: Repository, readonly options: ReconcileStoreOptions = {}) {}

  get #prisma () { return this.repository.prisma }

  /** A short transaction of the run's own bookkeeping (not a chunk: none of a chunk's settings). */
  async #transaction<T> (work: (tx: Transaction) => Promise<T>): Promise<T> {
    const { maxWaitMs, timeoutMs } = this.repository.limits
    return await this.#prisma.$transaction(work, { maxWait: maxWaitMs, timeout: timeoutMs })
  }

  /** Takes the lease if it is free or expired; false when another run holds it. */
  async acquireLease (holder: string, until: Date, now: Date = new Date()): Promise<boolean> {
    const { count } = await this.#prisma.reconcileLease.updateMany({ where: { id: 1, expiresAt: { lt: now } }, data: { holder, expiresAt: until } })
    return count === 1
  }

  /** Extends a lease still held; false when it was lost (expired and taken by another run). */
  async renewLease (holder: string, until: Date): Promise<boolean> {
    const { count } = await this.#prisma.reconcileLease.updateMany({ where: { id: 1, holder }, data: { expiresAt: until } })
    return count === 1
  }

  async releaseLease (holder: string): Promise<void> {
    await this.#prisma.reconcileLease.updateMany({ where: { id: 1, holder }, data: { expiresAt: EPOCH } })
  }

  async startRun (run: { id: string, startedAt: Date, snapshotVersion: string, dryRun: boolean, trigger: string, outcome: RunOutcome }): Promise<void> {
    await this.#prisma.reconcileRun.create({ data: run })
  }

  async finishRun (id: string, end: { endedAt: Date, outcome: RunOutcome, counts?: object, error?: string }): Promise<void> {
    await this.#prisma.reconcileRun.update({ where: { id }, data: { endedAt: end.endedAt, outcome: end.outcome, counts: end.counts, error: end.error ?? null } })
  }

  /** Runs newest first; `before` is the id of the last run of the previous page. */
  async runs (limit: number, before?: string): Promise<{ items: RunRecord[], next_cursor: string | null }> {
    const from = before === undefined ? null : await this.#prisma.reconcileRun.findUnique({ where: { id: before } })
    const rows = await this.#prisma.reconcileRun.findMany({
      where: from === null ? {} : { OR: [{ startedAt: { lt: from.startedAt } }, { startedAt: from.startedAt, id: { lt: from.id } }] },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: limit + 1
    })
    const items = rows.slice(0, limit).map(runRecord)
    return { items, next_cursor: rows.length > limit ? items[items.length - 1].id : null }
  }

  /** When the newest successful (not dry) run ended, if any. */
  async lastSuccess (): Promise<Date | undefined> {
    const row = await this.#prisma.reconcileRun.findFirst({ where: { outcome: 'succeeded', dryRun: false }, orderBy: { endedAt: 'desc' } })
    // A finished run always has its end time.
    return row === null ? undefined : row.endedAt!
  }

  /**
   * Whether the newest run refused by the mass-deletion guard is newer than the newest successful run: the
   * copy is then waiting for an operator. Two lookups by the (outcome, dry_run, ended_at) index, whatever
   * the number of runs.
   */
  async massDeleteRefused (): Promise<boolean> {
    const refused = await this.#prisma.reconcileRun.findFirst({ where: { outcome: 'refused', dryRun: false }, orderBy: { endedAt: 'desc' } })
    if (refused === null) return false
    const success = await this.lastSuccess()
    // A finished run always has its end time.
    return success === undefined || refused.endedAt! > success
  }

  /**
   * Marks every run still `running` as `abandoned` (ended now): called by the run that just took the lease,
   * so no other run is alive (a run's lease is renewed every few seconds while it lives); returns their ids.
   */
  async abandonDeadRuns (now: Date, note: string): Promise<string[]> {
    const dead = await this.#prisma.reconcileRun.findMany({ where: { outcome: 'running' }, select: { id: true } })
    if (dead.length === 0) return []
    await this.#prisma.reconcileRun.updateMany({ where: { id: { in: dead.map(d => d.id) }, outcome: 'running' }, data: { outcome: 'abandoned', endedAt: now, error: note } })
    return dead.map(d => d.id)
  }

  /**
   * A run starts applying the snapshot of `version`: from now on, writes older than it that land are
   * journaled (batch-write.ts), for the run to compare again before it raises the floor. A journal left by
   * an earlier run is dropped: this run compares everything anyway. On PostgreSQL this waits for the event
   * batches in flight (they hold the floor row share-locked), so every later one journals.
   */
  async beginApplying (version: Version): Promise<void> {
    await this.#transaction(async tx => {
      await tx.$executeRaw(sql`UPDATE "version_floor" SET "pending_version" = ${version} WHERE "id" = 1`)
      await tx.$executeRaw(sql`DELETE FROM "reconcile_journal"`)
    })
  }

  /** The run of `version` stopped applying without raising the floor: nothing to journal any more. */
  async endApplying (version: Version): Promise<void> {
    await this.#prisma.$executeRaw(sql`UPDATE "version_floor" SET "pending_version" = '' WHERE "id" = 1 AND "pending_version" = ${version}`)
  }

  /** Up to `limit` journal entries, in key order. */
  async journal (limit: number): Promise<JournalEntry[]> {
    return await this.#prisma.$queryRaw<JournalEntry[]>(sql`SELECT "entity", "key" FROM "reconcile_journal" ORDER BY "entity", "key" LIMIT ${limit}`)
  }

  /**
   * Raises the version floor to `version` (never lowers it) and ends `pending_version`, if the journal is empty:
   * every row is then as the snapshot says, or newer. One short transaction whose first statement locks the
   * floor row (PostgreSQL: it waits for the event batches in flight, which hold it share-locked, and the
   * next ones wait for it; SQLite: the write lock), so no older write can land between the check and the
   * raise. False when the journal holds rows: the run compares them and tries again.
   */
  async raiseFloor (version: Version): Promise<boolean> {
    return await this.#transaction(async tx => {
      await tx.$executeRaw(sql`UPDATE "version_floor" SET "pending_version" = "pending_version" WHERE "id" = 1`)
      const [{ n }] = await tx.$queryRaw<Array<{ n: unknown }>>(sql`SELECT COUNT(*) AS "n" FROM "reconcile_journal"`)
      if (Number(n) > 0) return false
      await tx.$executeRaw(sql`UPDATE "version_floor" SET "version" = CASE WHEN "version" < ${version} THEN ${version} ELSE "version" END,
        "pending_version" = CASE WHEN "pending_version" = ${version} THEN '' ELSE "pending_version" END WHERE "id" = 1`)
      return true
    })
  }

  async floor (): Promise<string> {
    return (await this.#prisma.versionFloor.findUniqueOrThrow({ where: { id: 1 } })).version
  }

  /**
   * Refreshes the query planner's statistics after a large load. Without them SQLite searches
   * attribute_values by its scope (a third of the table) instead of the user_id index; its approximate
   * analysis (analysis_limit) of every table takes milliseconds. PostgreSQL needs it too: its autovacuum
   * analyzes too late for tables filled within minutes, and a first load without it crawled (a tenth of the
   * bench's size had not finished after 4 minutes). There it analyzes the tables holding `entities` (their
   * attribute keys included), or every projected table: analyzing the others again would cost hundreds of
   * milliseconds each time, for statistics that did not change.
   */
  async analyze (entities?: Entity[]): Promise<void> {
    if (this.repository.dialect.name === 'sqlite') {
      await this.#prisma.$queryRawUnsafe('PRAGMA analysis_limit = 1000')
      await this.#prisma.$executeRawUnsafe('ANALYZE')
      return
    }
    const tables = entities === undefined
      ? PROJECTED_TABLES
      : [...new Set(entities.flatMap(e => [ENTITIES[e].table, ...(ATTRIBUTE_HOLDERS.includes(e) ? ['attribute_values'] : [])]))]
    await this.#prisma.$executeRawUnsafe(`ANALYZE ${tables.map(t => `"${t}"`).join(', ')}`)
  }

  /**
   * Keys of live rows of `entity` (deleted ones are tombstones, not live) in key order, at most `limit`,
   * after the key `after`: a page at a time, so that no read holds the database (or, on SQLite, the event
   * loop) for the whole table. With `olderThan`, only rows made live by a version older than it (those a
   * deletion at that version would remove).
   */
  async liveKeys (entity: Entity, limit: number, after?: Record<string, string | number>, olderThan?: Version): Promise<Array<Record<string, string | number>>> {
    const def = ENTITIES[entity]
    const columns = join(def.keys.map(identifier))
    const from = after === undefined ? sql`` : sql` AND (${columns}) > (${join(def.keys.map(k => sql`${after[k]}`))})`
    const older = olderThan === undefined ? sql`` : sql` AND "live_v" < ${olderThan}`
    const rows = await this.#prisma.$queryRaw<Array<Record<string, string | number | bigint>>>(sql`SELECT ${columns}
      FROM ${identifier(def.table)} WHERE "live" = ${true}${from}${older} ORDER BY ${columns} LIMIT ${limit}`)
    // Env ids come back from their BIGINT columns as bigint; every one stored is within MAX_ENV_ID, exact as a number.
    return rows.map(row => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])))
  }

  /**
   * Runs `work` in one transaction with a reader of the local state and the guarded write path. A dry run
   * rolls the transaction back and still returns what `work` returned. A transient failure is retried like
   * an event batch (Repository.transaction).
   */
  async chunk<T> (cause: WriteCause, dryRun: boolean, timeoutMs: number, work: (reader: ChunkReader) => Promise<T>): Promise<T> {
    const { dialect } = this.repository
    const feed = new FeedWrite()
    try {
      const result = await this.repository.transaction(async tx => {
        feed.restart() // a retried transaction records afresh
        if (dialect.name === 'postgresql') await tx.$queryRawUnsafe(this.options.asyncCommit === true ? `${CHUNK_SETTINGS}, ${ASYNC_COMMIT}` : CHUNK_SETTINGS)
        else await tx.$executeRawUnsafe(SQLITE_WRITE_LOCK)
        const result = await work(reader(tx, dialect, async (db, changes) => await applyChanges(db, dialect, changes, cause, feed)))
        if (dryRun) throw new DryRun(result)
        return result
      }, timeoutMs)
      this.repository.feedCommitted(feed)
      return result
    } catch (err) {
      if (err instanceof DryRun) return err.result as T
      throw err
    }
  }
}

// The chunk reads bind their ids as ONE JSON parameter (dialect.rows), not one parameter per id as Prisma's
// `in` does: a chunk of 250 ids costs one short statement instead of 250 bindings. JSON columns are read as
// text and parsed here (SQLite's JSONB columns have numeric affinity, which raw reads cannot map).

type Raw = Record<string, unknown>
const text = (v: unknown): string => String(v)
const json = (v: unknown): any => v === null ? null : JSON.parse(String(v))
/** PostgreSQL answers true/false, SQLite 1/0. */
const bool = (v: unknown): boolean => Boolean(Number(v))

const tenantRow = (r: Raw): Tenant => ({
  id: text(r.id),
  live: bool(r.live),
  liveV: text(r.live_v),
  deletedV: text(r.deleted_v),
  name: r.name as string | null,
  nameV: text(r.name_v),
  backOfficeStaffEmail: r.back_office_staff_email as string | null,
  backOfficeStaffEmailV: text(r.back_office_staff_email_v),
  planId: r.plan_id as string | null,
  planIdV: text(r.plan_id_v),
  planHistories: json(r.plan_histories),
  planHistoriesV: text(r.plan_histories_v),
  nextPlan: json(r.next_plan),
  nextPlanV: text(r.next_plan_v),
  billingInfo: json(r.billing_info),
  billingInfoV: text(r.billing_info_v),
  planState: json(r.plan_state),
  planDueAt: r.plan_due_at === null ? null : BigInt(r.plan_due_at as number)
})
const userRow = (r: Raw): User => ({
  id: text(r.id), live: bool(r.live), liveV: text(r.live_v), deletedV: text(r.deleted_v),
  email: r.email as string | null, emailV: text(r.email_v), signInId: r.sign_in_id as string | null, signInIdV: text(r.sign_in_id_v)
})
const membershipRow = (r: Raw): TenantUser => ({
  tenantId: text(r.tenant_id), userId: text(r.user_id), live: bool(r.live), liveV: text(r.live_v), deletedV: text(r.deleted_v)
})
const roleRow = (r: Raw): TenantUserRole => ({
  tenantId: text(r.tenant_id), userId: text(r.user_id), envId: BigInt(r.env_id as number | string), roleName: text(r.role_name), live: bool(r.live), liveV: text(r.live_v)
})
const listingRow = (r: Raw): TenantUserEnv => ({
  tenantId: text(r.tenant_id), userId: text(r.user_id), envId: BigInt(r.env_id as number | string), live: bool(r.live), liveV: text(r.live_v)
})
const attributeRow = (r: Raw): AttributeValue => ({
  scope: text(r.scope), tenantId: text(r.tenant_id), userId: text(r.user_id), key: text(r.key), value: json(r.value), removed: bool(r.removed), v: text(r.v)
})

const TENANT_COLUMNS = raw(`"id", "live", "live_v", "deleted_v", "name", "name_v", "back_office_staff_email", "back_office_staff_email_v",
  "plan_id", "plan_id_v", CAST("plan_histories" AS TEXT) AS "plan_histories", "plan_histories_v", CAST("next_plan" AS TEXT) AS "next_plan",
  "next_plan_v", CAST("billing_info" AS TEXT) AS "billing_info", "billing_info_v", CAST("plan_state" AS TEXT) AS "plan_state", "plan_due_at"`)
// `scope` as an expression: SQLite would otherwise search the primary key by scope alone (every key of
// that scope) instead of the user_id index.
const BY_USER_SCOPE = raw('("scope" || \'\')')
const ATTRIBUTE_COLUMNS = raw('"scope", "tenant_id", "user_id", "key", CAST("value" AS TEXT) AS "value", "removed", "v"')

function reader (tx: Transaction, dialect: Dialect, apply: (db: Queryable, changes: Change[][]) => Promise<Set<number>>): ChunkReader {
  const list = (ids: string[]): Sql => dialect.rows(['text'], ids.map(id => [id]))
  const query = async <T>(statement: Sql, map: (r: Raw) => T): Promise<T[]> => (await tx.$queryRaw<Raw[]>(statement)).map(map)
  return {
    tenants: async ids => await query(sql`SELECT ${TENANT_COLUMNS} FROM "tenants" WHERE "id" IN (${list(ids)})`, tenantRow),
    users: async ids => await query(sql`SELECT * FROM "users" WHERE "id" IN (${list(ids)})`, userRow),
    memberships: async userIds => ({
      memberships: await query(sql`SELECT * FROM "tenant_users" WHERE "user_id" IN (${list(userIds)})`, membershipRow),
      roles: await query(sql`SELECT * FROM "tenant_user_roles" WHERE "user_id" IN (${list(userIds)})`, roleRow),
      listings: await query(sql`SELECT * FROM "tenant_user_envs" WHERE "user_id" IN (${list(userIds)})`, listingRow),
      attributes: await query(sql`SELECT ${ATTRIBUTE_COLUMNS} FROM "attribute_values" WHERE "user_id" IN (${list(userIds)}) AND ${BY_USER_SCOPE} = ${'tenant_user'}`, attributeRow)
    }),
    attributes: async (scope, ids) => await query(scope === 'tenant'
      ? sql`SELECT ${ATTRIBUTE_COLUMNS} FROM "attribute_values" WHERE "scope" = ${scope} AND "tenant_id" IN (${list(ids)}) AND "user_id" = ${''}`
      : sql`SELECT ${ATTRIBUTE_COLUMNS} FROM "attribute_values" WHERE "user_id" IN (${list(ids)}) AND ${BY_USER_SCOPE} = ${scope}`, attributeRow),
    roles: async () => await tx.role.findMany(),
    envs: async () => await tx.env.findMany(),
    apply: async changes => await apply(tx, changes),
    forget: async entries => {
      if (entries.length === 0) return
      await tx.$executeRaw(sql`DELETE FROM "reconcile_journal" WHERE ("entity", "key") IN (${dialect.rows(['text', 'text'], entries.map(e => [e.entity, e.key]))})`)
    }
  }
}
