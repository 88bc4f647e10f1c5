import { join, raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { AttributeValue, Env, Role, Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../../generated/sqlite/client.js'
import type { CollapsedRow } from '../writing/collapse.js'
import { identifier, type ColumnType, type Dialect } from '../engines/dialect.js'
import type { RawQueryable } from '../engines/driver-adapter.js'
import { feedChanges, visibleEntities, type FeedChange, type FeedEntity, type FeedRows } from './feed-views.js'
import { FeedLocks, parentKeys, scopeKeys } from './feed-locks.js'
import { widenForCascades, type FeedScope } from './feed-scope.js'

// The change feed's SQL: the rows a write's visible state depends on (read before the guarded upserts, under
// the locks of feed-locks.ts), and the entries, numbered at the end of the transaction.

/**
 * What the write path runs its statements on: raw tagged SQL, answered by a Prisma client or interactive
 * transaction, or by a transaction on the driver adapter (engines/driver-adapter.ts), which event batches use.
 */
export type Queryable = RawQueryable

/** The event behind an entry: its envelope id, type and time. */
export interface EventRef {
  id: string
  type: string
  time: Date
}

/**
 * What one write recorded, for whoever is told after it commits (waiting readers, metrics), and its locks
 * (PostgreSQL), which outlive a transaction rolled back to be tried again.
 */
export class FeedWrite {
  /** The newest cursor given out, when entries were recorded. */
  head: number | undefined
  readonly entries: Array<{ entity: FeedEntity, op: 'upsert' | 'delete' }> = []
  readonly locks = new FeedLocks()
  /** The soonest instant (Unix ms) a plan reservation this write left pending takes effect (the plan activator's cue). */
  planDueAt: number | undefined

  /** A new attempt of the write's transaction: it records afresh and holds no lock yet. */
  restart (): void {
    this.head = undefined
    this.planDueAt = undefined
    this.entries.length = 0
    this.locks.restart()
  }
}

/** How a column travels in loadFeedRows' row JSON: as it is, as stored JSON, or as a boolean (SQLite: 0 or 1). */
type Kind = 'plain' | 'json' | 'boolean'
/** Every field of a model, with its kind: the compiler checks that none is left out. */
type Columns<M> = { [K in keyof M]-?: Kind }

const BOOL = 'boolean' as const
const JSON_ = 'json' as const
const P = 'plain' as const

const TABLES = {
  tenant: {
    table: 'tenants',
    columns: {
      id: P, live: BOOL, liveV: P, deletedV: P, name: P, nameV: P, backOfficeStaffEmail: P, backOfficeStaffEmailV: P, planId: P, planIdV: P,
      planHistories: JSON_, planHistoriesV: P, nextPlan: JSON_, nextPlanV: P, billingInfo: JSON_, billingInfoV: P, planState: JSON_, planDueAt: P
    } satisfies Columns<Tenant>
  },
  user: { table: 'users', columns: { id: P, live: BOOL, liveV: P, deletedV: P, email: P, emailV: P, signInId: P, signInIdV: P } satisfies Columns<User> },
  membership: { table: 'tenant_users', columns: { tenantId: P, userId: P, live: BOOL, liveV: P, deletedV: P } satisfies Columns<TenantUser> },
  assignment: { table: 'tenant_user_roles', columns: { tenantId: P, userId: P, envId: P, roleName: P, live: BOOL, liveV: P } satisfies Columns<TenantUserRole> },
  listing: { table: 'tenant_user_envs', columns: { tenantId: P, userId: P, envId: P, live: BOOL, liveV: P } satisfies Columns<TenantUserEnv> },
  role: { table: 'roles', columns: { roleName: P, live: BOOL, liveV: P, displayName: P, displayNameV: P } satisfies Columns<Role> },
  env: { table: 'envs', columns: { id: P, live: BOOL, liveV: P, name: P, nameV: P, displayName: P, displayNameV: P } satisfies Columns<Env> },
  attribute: { table: 'attribute_values', columns: { scope: P, tenantId: P, userId: P, key: P, value: JSON_, removed: BOOL, v: P } satisfies Columns<AttributeValue> }
} as const
export type TableName = keyof typeof TABLES

/** The column behind a model field (the schemas map every field to its snake_case name). */
const column = (field: string): string => field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)

const rowJsons = new Map<string, Sql>()

/**
 * A row of `name` as one JSON text with the model's field names, the same on both engines. Built once per
 * table and engine (every read and guarded upsert names it): a Sql is never changed once made.
 */
export function rowJson (name: TableName, dialect: Dialect): Sql {
  const id = `${dialect.name}:${name}`
  let built = rowJsons.get(id)
  if (built === undefined) rowJsons.set(id, built = buildRowJson(name, dialect))
  return built
}

function buildRowJson (name: TableName, dialect: Dialect): Sql {
  const pairs = Object.entries(TABLES[name].columns).map(([field, kind]) => {
    const value = identifier(column(field))
    return sql`'${raw(field)}', ${dialect.name === 'sqlite' && kind === 'json' ? sql`json(${value})` : value}`
  })
  return dialect.name === 'sqlite' ? sql`json_object(${join(pairs)})` : sql`json_build_object(${join(pairs)})::text`
}

const select = (name: TableName, dialect: Dialect, from: Sql, where?: Sql): Sql =>
  sql`SELECT '${raw(name)}' AS "kind", ${rowJson(name, dialect)} AS "row" FROM ${from}${where === undefined ? sql`` : sql` WHERE ${where}`}`

const table = (name: TableName): Sql => identifier(TABLES[name].table)

/**
 * The one statement that reads what loadFeedRows returns: each non-empty list of the scope bound as one
 * JSON parameter (a CTE), memberships read once and their tenants and users read with them as parents.
 * Only the parts a scope needs are in the statement (each costs even when it finds nothing); a scope is
 * never empty (applyChanges reads none for a batch that writes nothing).
 */
function scopedQuery (scope: FeedScope, dialect: Dialect): Sql {
  const lists: Sql[] = []
  /** The list's CTE, and a SELECT of its ids (undefined for an empty list, which is left out). */
  const list = (name: string, set: Set<string> | Set<number>, type: ColumnType): Sql | undefined => {
    if (set.size === 0) return undefined
    lists.push(sql`${identifier(name)}("id") AS (${dialect.rows([type], [...set].map(v => [v]))})`)
    return sql`SELECT "id" FROM ${identifier(name)}`
  }
  const mu = list('mu', scope.memberUsers, 'text')
  const mt = list('mt', scope.memberTenants, 'text')
  const ti = list('ti', scope.tenantIds, 'text')
  const pt = list('pt', scope.parentTenants, 'text')
  const ui = list('ui', scope.userIds, 'text')
  const rn = list('rn', scope.roleNames, 'text')
  const ei = list('ei', scope.envIds, 'bigint')
  const parts: Sql[] = []
  const members = mu !== undefined || mt !== undefined
  if (members) {
    // Rows below the users, and below the tenants: a UNION of two index lookups (an OR of them reads the table).
    const below = (name: TableName): Sql => {
      const from = sql`SELECT * FROM ${table(name)} WHERE `
      return join([mu && sql`${from}"user_id" ${dialect.inSet(mu)}`, mt && sql`${from}"tenant_id" ${dialect.inSet(mt)}`].filter(s => s !== undefined), ' UNION ')
    }
    lists.push(sql`"m" AS (${below('membership')})`, sql`"a" AS (${below('assignment')})`, sql`"l" AS (${below('listing')})`)
    parts.push(select('membership', dialect, raw('"m"')), select('assignment', dialect, raw('"a"')), select('listing', dialect, raw('"l"')))
  }
  // Attribute keys in parts that each read one index (one OR of them all reads every key of a scope).
  // (`"scope" || ''`: not the primary key's scope prefix, which both engines would pick, but user_id's index.)
  if (mu !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`("scope" || '') = 'tenant_user' AND "user_id" ${dialect.inSet(mu)}`))
  if (mt !== undefined) {
    const notAbove = mu === undefined ? sql`` : sql` AND NOT ("user_id" ${dialect.inSet(mu)})`
    parts.push(select('attribute', dialect, table('attribute'), sql`"scope" = 'tenant_user' AND "tenant_id" ${dialect.inSet(mt)}${notAbove}`))
  }
  if (ti !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`"scope" = 'tenant' AND "tenant_id" ${dialect.inSet(ti)}`))
  if (ui !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`("scope" || '') = 'user' AND "tenant_id" = '' AND "user_id" ${dialect.inSet(ui)}`))
  // Tenants and users by one list of ids each (a UNION of the lists that name them): one index lookup per id.
  const ids = (...sources: Array<Sql | undefined>): Sql => sql`"id" ${dialect.inSet(join(sources.filter(s => s !== undefined), ' UNION '))}`
  if (ti !== undefined || members) parts.push(select('tenant', dialect, table('tenant'), ids(ti, pt, members ? sql`SELECT "tenant_id" FROM "m"` : undefined)))
  if (ui !== undefined || members) parts.push(select('user', dialect, table('user'), ids(ui, mu, members ? sql`SELECT "user_id" FROM "m"` : undefined)))
  if (rn !== undefined) parts.push(select('role', dialect, table('role'), sql`"role_name" ${dialect.inSet(rn)}`))
  if (ei !== undefined) parts.push(select('env', dialect, table('env'), sql`"id" ${dialect.inSet(ei)}`))
  return sql`WITH ${join(lists)} ${join(parts, ' UNION ALL ')}`
}

/** The tenants and users of a batch that may cascade, with what the batch writes of `live` and `deleted_v`. */
type Candidate = [entity: 'tenant' | 'user', id: string, live: boolean, liveV: string, deletedV: string | null]

const CANDIDATE_TYPES: ColumnType[] = ['text', 'text', 'boolean', 'text', 'text']

/**
 * PostgreSQL: the part of the read (after scopedQuery's, in the same statement) that decides which of the
 * candidates cascade, by widenForCascades' rule on their stored rows, and reads what hangs below them as
 * scopedQuery reads below memberUsers and memberTenants (with `cascade` rows naming them): no second read
 * after widening. SQLite reads in-process, where the second read costs little.
 */
function cascadeQuery (candidates: Candidate[], dialect: Dialect): Sql {
  const cascades = (entity: 'tenant' | 'user'): Sql => sql`SELECT "c"."id" FROM "cc" AS "c" WHERE "c"."entity" = '${raw(entity)}' AND NOT EXISTS (
    SELECT 1 FROM ${table(entity)} AS "s" WHERE "s"."id" = "c"."id"
      AND NOT (("c"."live_v" COLLATE "C" > "s"."live_v" AND "c"."live" <> "s"."live") OR COALESCE("c"."deleted_v" COLLATE "C" > "s"."deleted_v", false)))`
  const below = (name: TableName): Sql =>
    sql`SELECT * FROM ${table(name)} WHERE "user_id" ${dialect.inSet(sql`SELECT "id" FROM "cu"`)} UNION SELECT * FROM ${table(name)} WHERE "tenant_id" ${dialect.inSet(sql`SELECT "id" FROM "ct"`)}`
  return sql`(WITH "cc"("entity", "id", "live", "live_v", "deleted_v") AS (${dialect.rows(CANDIDATE_TYPES, candidates)}),
    "ct" AS (${cascades('tenant')}), "cu" AS (${cascades('user')}), "cm" AS (${below('membership')}), "ca" AS (${below('assignment')}), "cl" AS (${below('listing')})
    SELECT 'cascade' AS "kind", json_build_array('tenant', "id")::text AS "row" FROM "ct"
    UNION ALL SELECT 'cascade', json_build_array('user', "id")::text FROM "cu"
    UNION ALL ${select('membership', dialect, raw('"cm"'))} UNION ALL ${select('assignment', dialect, raw('"ca"'))} UNION ALL ${select('listing', dialect, raw('"cl"'))}
    UNION ALL ${select('attribute', dialect, table('attribute'), sql`("scope" || '') = 'tenant_user' AND "user_id" ${dialect.inSet(sql`SELECT "id" FROM "cu"`)}`)}
    UNION ALL ${select('attribute', dialect, table('attribute'), sql`"scope" = 'tenant_user' AND "tenant_id" ${dialect.inSet(sql`SELECT "id" FROM "ct"`)}`)}
    UNION ALL ${select('tenant', dialect, table('tenant'), sql`"id" ${dialect.inSet(sql`SELECT "tenant_id" FROM "cm"`)}`)}
    UNION ALL ${select('user', dialect, table('user'), sql`"id" ${dialect.inSet(sql`SELECT "user_id" FROM "cm"`)}`)})`
}

/** The batch's tenants and users whose memberships are not read yet: the candidates of cascadeQuery. */
function candidatesOf (scope: FeedScope, batch: CollapsedRow[]): Candidate[] {
  return batch.flatMap((row): Candidate[] => {
    if (row.entity !== 'tenant' && row.entity !== 'user') return []
    const id = row.key.id as string
    if ((row.entity === 'tenant' ? scope.memberTenants : scope.memberUsers).has(id)) return []
    const live = row.registers.get('live')!
    return [[row.entity, id, live.value as boolean, live.version, row.deleted?.version ?? null]]
  })
}

/** Every row of every table the feed compares. */
const allQuery = (dialect: Dialect): Sql =>
  join((Object.keys(TABLES) as TableName[]).map(name => select(name, dialect, table(name))), ' UNION ALL ')

/**
 * The stored rows the visible state of the scope's entities depends on, in one statement; 'all' reads
 * every table. Tenants and users read only because memberships below them were come back as parents.
 */
export async function loadFeedRows (db: Queryable, dialect: Dialect, scope: FeedScope | 'all'): Promise<FeedRows> {
  return await readRows(db, dialect, scope, scope)
}

/**
 * The rows of `read` (a scope, or 'all'), its tenants and users sorted into `own`'s and parents; with
 * `candidates` (PostgreSQL), also what hangs below those that cascade, whose ids are added to `own`'s
 * memberTenants and memberUsers.
 */
async function readRows (db: Queryable, dialect: Dialect, read: FeedScope | 'all', own: FeedScope | 'all', candidates: Candidate[] = []): Promise<FeedRows> {
  const query = read === 'all' ? allQuery(dialect) : scopedQuery(read, dialect)
  if (candidates.length > 0) {
    const found = await db.$queryRaw<Array<StoredRow | { kind: 'cascade', row: string }>>(sql`${query} UNION ALL ${cascadeQuery(candidates, dialect)}`)
    const stored: StoredRow[] = []
    for (const row of found) {
      if (row.kind !== 'cascade') { stored.push(row); continue }
      const [entity, id] = JSON.parse(row.row) as ['tenant' | 'user', string]
      const scope = own as FeedScope // candidates come only with a scope (loadLockedFeedRows)
      ;(entity === 'tenant' ? scope.memberTenants : scope.memberUsers).add(id)
    }
    // A row below a tenant that cascades may also be below a user read in full, or a tenant read as its own.
    return split(distinct(parseRows(stored)), own)
  }
  return split(parseRows(await db.$queryRaw<StoredRow[]>(query)), own)
}

/** Each row once (rows of one statement: a row found twice is the same). */
function distinct (rows: Record<TableName, unknown[]>): Record<TableName, unknown[]> {
  for (const kind of Object.keys(rows) as TableName[]) rows[kind] = [...new Map(rows[kind].map(r => [ROW_KEY[kind](r), r])).values()]
  return rows
}

/** Parsed rows as FeedRows: tenants and users sorted into `own`'s and parents. */
function split (rows: Record<TableName, unknown[]>, own: FeedScope | 'all'): FeedRows {
  const tenants = rows.tenant as Tenant[]
  const users = rows.user as User[]
  const sort = <T extends { id: string }>(list: T[], ids: Set<string>): [T[], T[]] =>
    own === 'all' ? [list, []] : [list.filter(r => ids.has(r.id)), list.filter(r => !ids.has(r.id))]
  const [ownTenants, parentTenants] = sort(tenants, own === 'all' ? new Set() : own.tenantIds)
  const [ownUsers, parentUsers] = sort(users, own === 'all' ? new Set() : own.userIds)
  return {
    tenants: ownTenants,
    users: ownUsers,
    parentTenants,
    parentUsers,
    memberships: rows.membership as TenantUser[],
    assignments: rows.assignment as TenantUserRole[],
    listings: rows.listing as TenantUserEnv[],
    roles: rows.role as Role[],
    envs: rows.env as Env[],
    attributes: rows.attribute as AttributeValue[]
  }
}

/**
 * The rows before a batch's write (`batch`, of `scope`), read under the locks of everything they concern:
 * read (on PostgreSQL with what hangs below the batch's tenants and users that cascade: cascadeQuery), widen
 * the scope for cascades (widenForCascades) and read what hangs below the tenants and users widened (only
 * that: the rest is as read, under the write's locks; on PostgreSQL none is left), and take the keys of the tenants and
 * users above the memberships read below a row the batch writes (FeedLocks.grow: may throw
 * FeedLockConflict), whose rows, read before they were locked, are then read again. Everything else read
 * was under the write's locks already: the memberships of its users and tenants cannot change meanwhile,
 * so no new parent appears. On an engine with one writer (or with the feed's lock exclusive) only cascades
 * widen.
 */
export async function loadLockedFeedRows (db: Queryable, dialect: Dialect, scope: FeedScope, batch: CollapsedRow[], locks: FeedLocks): Promise<FeedRows> {
  let rows = await readRows(db, dialect, scope, scope, dialect.name === 'postgresql' ? candidatesOf(scope, batch) : [])
  const taken: string[] = []
  for (;;) {
    const widened = widenForCascades(scope, batch, rows)
    if (dialect.concurrentWriters) taken.push(...await locks.grow(db, [...scopeKeys(scope), ...parentKeys(scope, rows)]))
    if (widened === undefined) return taken.length === 0 ? rows : await withParentsReread(db, dialect, scope, rows, taken)
    rows = unionRows(rows, await readRows(db, dialect, widened, scope))
  }
}

/**
 * `rows` and the rows of `more` not among them (a second read of the same transaction: a row read twice is
 * under the write's locks, and so the same, or a parent whose key is then taken and read again).
 */
function unionRows (rows: FeedRows, more: FeedRows): FeedRows {
  const union = <T>(kind: TableName, list: T[], extra: T[]): T[] => {
    const seen = new Set(list.map(ROW_KEY[kind]))
    return [...list, ...extra.filter(r => !seen.has(ROW_KEY[kind](r)))]
  }
  return {
    tenants: union('tenant', rows.tenants, more.tenants),
    users: union('user', rows.users, more.users),
    parentTenants: union('tenant', rows.parentTenants, more.parentTenants),
    parentUsers: union('user', rows.parentUsers, more.parentUsers),
    memberships: union('membership', rows.memberships, more.memberships),
    assignments: union('assignment', rows.assignments, more.assignments),
    listings: union('listing', rows.listings, more.listings),
    roles: rows.roles,
    envs: rows.envs,
    attributes: union('attribute', rows.attributes, more.attributes)
  }
}

/** `rows` with the tenants and users of `keys` (`tenant:<id>`, `user:<id>`) read again. */
async function withParentsReread (db: Queryable, dialect: Dialect, scope: FeedScope, rows: FeedRows, keys: string[]): Promise<FeedRows> {
  const ids = (prefix: string): string[] => keys.filter(k => k.startsWith(prefix)).map(k => k.slice(prefix.length))
  const tenantIds = ids('tenant:')
  const userIds = ids('user:')
  const byId = (list: string[]): Sql => sql`"id" ${dialect.inSet(dialect.rows(['text'], list.map(id => [id])))}`
  const parts: Sql[] = []
  if (tenantIds.length > 0) parts.push(select('tenant', dialect, table('tenant'), byId(tenantIds)))
  if (userIds.length > 0) parts.push(select('user', dialect, table('user'), byId(userIds)))
  const fresh = parseRows(await db.$queryRaw<StoredRow[]>(join(parts, ' UNION ALL ')))
  const replace = <T extends { id: string }>(list: T[], reread: string[], found: T[], own: Set<string>, mine: boolean): T[] =>
    [...list.filter(r => !reread.includes(r.id)), ...found.filter(r => own.has(r.id) === mine)]
  return {
    ...rows,
    tenants: replace(rows.tenants, tenantIds, fresh.tenant as Tenant[], scope.tenantIds, true),
    parentTenants: replace(rows.parentTenants, tenantIds, fresh.tenant as Tenant[], scope.tenantIds, false),
    users: replace(rows.users, userIds, fresh.user as User[], scope.userIds, true),
    parentUsers: replace(rows.parentUsers, userIds, fresh.user as User[], scope.userIds, false)
  }
}

/** A row as loadFeedRows' statement and the guarded upserts' RETURNING give it: its table, and its JSON (rowJson). */
export interface StoredRow { kind: TableName, row: string }

function parseRows (found: StoredRow[]): Record<TableName, unknown[]> {
  const rows: Record<TableName, unknown[]> = { tenant: [], user: [], membership: [], assignment: [], listing: [], role: [], env: [], attribute: [] }
  for (const { kind, row } of found) {
    const parsed = JSON.parse(row) as { live: unknown }
    if (kind !== 'attribute') parsed.live = parsed.live === true || parsed.live === 1
    rows[kind].push(parsed)
  }
  return rows
}

/** The identity of a row within its table. */
const ROW_KEY: Record<TableName, (row: any) => string> = {
  tenant: r => r.id,
  user: r => r.id,
  membership: r => JSON.stringify([r.tenantId, r.userId]),
  assignment: r => JSON.stringify([r.tenantId, r.userId, r.envId, r.roleName]),
  listing: r => JSON.stringify([r.tenantId, r.userId, r.envId]),
  role: r => r.roleName,
  env: r => String(r.id),
  attribute: r => JSON.stringify([r.scope, r.tenantId, r.userId, r.key])
}

/**
 * The rows after a write, from the rows read before it (loadLockedFeedRows, under the locks of what they concern) and the rows its
 * guarded upserts returned (inserted or changed; whatever they did not return is as it was): no second read.
 * Every row an upsert can touch is in the scope read before (scopeOf), as are the parents its memberships
 * can gain (parentTenants, memberUsers).
 */
export function rowsAfter (before: FeedRows, written: StoredRow[]): FeedRows {
  const rows = parseRows(written)
  const merged = <T>(kind: TableName, list: T[]): T[] => {
    if (rows[kind].length === 0) return list
    const changed = new Map(rows[kind].map(r => [ROW_KEY[kind](r), r as T]))
    const out = list.map(r => {
      const key = ROW_KEY[kind](r)
      const row = changed.get(key)
      changed.delete(key)
      return row ?? r
    })
    return [...out, ...changed.values()]
  }
  return {
    tenants: merged('tenant', before.tenants),
    users: merged('user', before.users),
    parentTenants: before.parentTenants,
    parentUsers: before.parentUsers,
    memberships: merged('membership', before.memberships),
    assignments: merged('assignment', before.assignments),
    listings: merged('listing', before.listings),
    roles: merged('role', before.roles),
    envs: merged('env', before.envs),
    attributes: merged('attribute', before.attributes)
  }
}

/**
 * The cause columns of an entry: event, reconcile, rebuild or scheduled, and the event or run behind it, or
 * (scheduled) the instant the reserved plan took effect at, kept as the entry's event time.
 */
export interface EntryCause {
  cause: 'event' | 'reconcile' | 'rebuild' | 'scheduled'
  event?: EventRef
  runId?: string
  at?: Date
}

const ENTRY_TYPES: ColumnType[] = ['bigint', 'text', 'json_text', 'text', 'json_text', 'text', 'text', 'text', 'timestamp', 'text', 'timestamp', 'integer']
const ENTRY_COLUMNS = sql`"cursor", "entity", "key", "op", "fields", "cause", "event_id", "event_type", "event_time", "run_id", "recorded_at", "size"`

/**
 * Records the changes between two visible states, each with its cause. The entries are numbered here, at
 * the end of the transaction: the head row is locked from this statement to the commit, so the next writer
 * takes its numbers only once this one has committed (or rolled back, giving them back). Cursors are thus
 * given out in commit order and what readers see is always the whole prefix 1..n. On PostgreSQL the head's
 * move, the entries and the notification of listeners (delivered at commit) are one statement.
 */
export async function recordFeed (
  db: Queryable,
  dialect: Dialect,
  before: FeedRows,
  after: FeedRows,
  causeOf: (change: FeedChange & { id: string }) => EntryCause,
  write: FeedWrite
): Promise<void> {
  const changes = feedChanges(visibleEntities(before), visibleEntities(after))
  if (changes.length === 0) return
  const n = changes.length
  const now = new Date()
  // Each entry's number within the transaction's (1..n): its cursor is the head before it plus that.
  const rows = changes.map((change, i) => {
    const { cause, event, runId, at } = causeOf(change)
    // Key and fields as the JSON text stored, whose bytes are the entry's size (GET /changes' byte budget).
    const key = JSON.stringify(change.key)
    const fields = change.fields === null ? null : JSON.stringify(change.fields)
    const size = Buffer.byteLength(key) + (fields === null ? 0 : Buffer.byteLength(fields))
    return [i + 1, change.entity, key, change.op, fields, cause, event?.id ?? null, event?.type ?? null, event?.time ?? at ?? null, runId ?? null, now, size]
  })
  let head: number
  if (dialect.name === 'postgresql') {
    const [moved] = await db.$queryRaw<Array<{ cursor: bigint | number | string }>>(sql`WITH "h" AS (UPDATE "feed_head" SET "cursor" = "cursor" + ${n} WHERE "id" = 1
        RETURNING "cursor", pg_notify(${FEED_CHANNEL} || current_schema(), "cursor"::text)),
      "e" AS (INSERT INTO "feed_entries" (${ENTRY_COLUMNS}) SELECT "h"."cursor" - ${n} + "v"."n", "v"."entity", "v"."key", "v"."op", "v"."fields",
        "v"."cause", "v"."event_id", "v"."event_type", "v"."event_time", "v"."run_id", "v"."recorded_at", "v"."size"
        FROM "h", (${dialect.rows(ENTRY_TYPES, rows)}) AS "v" ("n", "entity", "key", "op", "fields", "cause", "event_id", "event_type", "event_time", "run_id", "recorded_at", "size"))
      SELECT "cursor" FROM "h"`)
    head = Number(moved.cursor)
  } else {
    const [moved] = await db.$queryRaw<Array<{ cursor: bigint | number }>>(sql`UPDATE "feed_head" SET "cursor" = "cursor" + ${n} WHERE "id" = 1 RETURNING "cursor"`)
    head = Number(moved.cursor)
    for (const row of rows) row[0] = head - n + (row[0] as number)
    await db.$executeRaw(sql`INSERT INTO "feed_entries" (${ENTRY_COLUMNS}) ${dialect.rows(ENTRY_TYPES, rows)}`)
  }
  write.head = head
  for (const change of changes) write.entries.push({ entity: change.entity, op: change.op })
}

/** The PostgreSQL notification channel of a schema's feed: this prefix and the schema's name. */
export const FEED_CHANNEL = 'receiver_changes_'
