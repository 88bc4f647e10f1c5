import { join, raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { AttributeValue, Env, Role, Tenant, TenantUser, TenantUserRole, User } from '../../generated/sqlite/client.js'
import type { CollapsedRow } from '../writing/collapse.js'
import { identifier, type ColumnType, type Dialect } from '../engines/dialect.js'
import type { RawQueryable } from '../engines/driver-adapter.js'
import { feedChanges, visibleEntities, type FeedChange, type FeedEntity, type FeedRows } from './feed-views.js'

// The change feed's SQL: the lock that orders writers, the rows a write's visible state depends on (read
// before and after the guarded upserts), the entries, and reading and pruning them.

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

/** What one transaction recorded, for whoever is told after it commits (waiting readers, metrics). */
export class FeedWrite {
  /** The newest cursor given out, when entries were recorded. */
  head: number | undefined
  readonly entries: Array<{ entity: FeedEntity, op: 'upsert' | 'delete' }> = []
}

/** The entities a write touches, and whose memberships (with roles and attributes) to read in full. */
export interface FeedScope {
  tenantIds: Set<string>
  userIds: Set<string>
  /** All memberships, role assignments and membership attributes of these users, and of these tenants. */
  memberUsers: Set<string>
  memberTenants: Set<string>
  /**
   * Tenants of the memberships and role assignments the batch writes: read as parents, as the memberships
   * written may make them parents after the write (their users are in memberUsers, read as parents too).
   */
  parentTenants: Set<string>
  roleNames: Set<string>
  envIds: Set<number>
}

/** The scope of a batch's collapsed rows and attribute owners. */
export function scopeOf (rows: CollapsedRow[], attributeOwners: Array<{ scope: string, tenantId: string, userId: string }>): FeedScope {
  const scope: FeedScope = {
    tenantIds: new Set(), userIds: new Set(), memberUsers: new Set(), memberTenants: new Set(), parentTenants: new Set(), roleNames: new Set(), envIds: new Set()
  }
  for (const { entity, key } of rows) {
    if (entity === 'tenant') scope.tenantIds.add(key.id as string)
    else if (entity === 'user') scope.userIds.add(key.id as string)
    else if (entity === 'tenant_user' || entity === 'tenant_user_role') {
      scope.memberUsers.add(key.user_id as string)
      scope.parentTenants.add(key.tenant_id as string)
    } else if (entity === 'role') scope.roleNames.add(key.role_name as string)
    else scope.envIds.add(key.id as number)
  }
  for (const a of attributeOwners) {
    if (a.scope === 'tenant') scope.tenantIds.add(a.tenantId)
    else if (a.scope === 'user') scope.userIds.add(a.userId)
    else scope.memberUsers.add(a.userId)
  }
  return scope
}

/**
 * Tenants and users of the batch whose delete or (re)appearance may hide or show what hangs below them:
 * their memberships must be read too. `rows` are their stored rows before the write. Says more rather
 * than less: reading a membership that turns out unchanged costs a little, missing one loses an entry.
 */
export function widenForCascades (scope: FeedScope, batch: CollapsedRow[], rows: FeedRows): boolean {
  const stored = new Map<string, { live: boolean, liveV: string, deletedV: string }>([
    ...rows.tenants.map(t => [`tenant:${t.id}`, t] as const),
    ...rows.users.map(u => [`user:${u.id}`, u] as const)
  ])
  let widened = false
  for (const row of batch) {
    if (row.entity !== 'tenant' && row.entity !== 'user') continue
    const id = row.key.id as string
    const before = stored.get(`${row.entity}:${id}`)
    const live = row.registers.get('live')! // every change writes `live`
    const cascades = before === undefined ||
      (live.version > before.liveV && live.value !== before.live) ||
      (row.deleted !== undefined && row.deleted.version > before.deletedV)
    if (!cascades) continue
    const set = row.entity === 'tenant' ? scope.memberTenants : scope.memberUsers
    if (!set.has(id)) { set.add(id); widened = true }
  }
  return widened
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
      planHistories: JSON_, planHistoriesV: P, nextPlan: JSON_, nextPlanV: P, billingInfo: JSON_, billingInfoV: P
    } satisfies Columns<Tenant>
  },
  user: { table: 'users', columns: { id: P, live: BOOL, liveV: P, deletedV: P, email: P, emailV: P, signInId: P, signInIdV: P } satisfies Columns<User> },
  membership: { table: 'tenant_users', columns: { tenantId: P, userId: P, live: BOOL, liveV: P, deletedV: P } satisfies Columns<TenantUser> },
  assignment: { table: 'tenant_user_roles', columns: { tenantId: P, userId: P, envId: P, roleName: P, live: BOOL, liveV: P } satisfies Columns<TenantUserRole> },
  role: { table: 'roles', columns: { roleName: P, live: BOOL, liveV: P, displayName: P, displayNameV: P } satisfies Columns<Role> },
  env: { table: 'envs', columns: { id: P, live: BOOL, liveV: P, name: P, nameV: P, displayName: P, displayNameV: P } satisfies Columns<Env> },
  attribute: { table: 'attribute_values', columns: { scope: P, tenantId: P, userId: P, key: P, value: JSON_, v: P } satisfies Columns<AttributeValue> }
} as const
export type TableName = keyof typeof TABLES

/** The column behind a model field (the schemas map every field to its snake_case name). */
const column = (field: string): string => field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)

/** A row of `name` as one JSON text with the model's field names, the same on both engines. */
export function rowJson (name: TableName, dialect: Dialect): Sql {
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
  /**
   * `column` in any of the sources: ONE IN over their UNION ALL. An OR of IN (subquery) conditions is no
   * semi-join on PostgreSQL: it filters a scan of the whole table (users: 100,000 rows in every chunk).
   */
  const within = (column: string, ...sources: Array<Sql | undefined>): Sql =>
    sql`${identifier(column)} IN (${join(sources.filter(s => s !== undefined), ' UNION ALL ')})`
  const mu = list('mu', scope.memberUsers, 'text')
  const mt = list('mt', scope.memberTenants, 'text')
  const ti = list('ti', scope.tenantIds, 'text')
  const pt = list('pt', scope.parentTenants, 'text')
  const ui = list('ui', scope.userIds, 'text')
  const rn = list('rn', scope.roleNames, 'text')
  const ei = list('ei', scope.envIds, 'integer')
  const parts: Sql[] = []
  const members = mu !== undefined || mt !== undefined
  if (members) {
    // The memberships and assignments of the users, then those of the tenants not already read (as below).
    const below = (table: Sql): Sql[] => [
      ...(mu === undefined ? [] : [sql`SELECT * FROM ${table} WHERE ${within('user_id', mu)}`]),
      ...(mt === undefined ? [] : [sql`SELECT * FROM ${table} WHERE ${within('tenant_id', mt)}${mu === undefined ? sql`` : sql` AND NOT ${within('user_id', mu)}`}`])
    ]
    lists.push(sql`"m" AS (${join(below(table('membership')), ' UNION ALL ')})`)
    parts.push(select('membership', dialect, raw('"m"')), ...below(table('assignment')).map(rows => select('assignment', dialect, sql`(${rows}) AS "a"`)))
  }
  // Attribute keys in parts that each read one index (one OR of them all reads every key of a scope).
  // (`"scope" || ''`: not the primary key's scope prefix, which SQLite would pick, but user_id's index.)
  if (mu !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`("scope" || '') = 'tenant_user' AND ${within('user_id', mu)}`))
  if (mt !== undefined) {
    const notAbove = mu === undefined ? sql`` : sql` AND NOT ${within('user_id', mu)}`
    parts.push(select('attribute', dialect, table('attribute'), sql`"scope" = 'tenant_user' AND ${within('tenant_id', mt)}${notAbove}`))
  }
  if (ti !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`"scope" = 'tenant' AND ${within('tenant_id', ti)}`))
  if (ui !== undefined) parts.push(select('attribute', dialect, table('attribute'), sql`"scope" = 'user' AND "tenant_id" = '' AND ${within('user_id', ui)}`))
  if (ti !== undefined || members) {
    parts.push(select('tenant', dialect, table('tenant'), within('id', ti, pt, members ? sql`SELECT "tenant_id" FROM "m"` : undefined)))
  }
  if (ui !== undefined || members) {
    parts.push(select('user', dialect, table('user'), within('id', ui, mu, members ? sql`SELECT "user_id" FROM "m"` : undefined)))
  }
  if (rn !== undefined) parts.push(select('role', dialect, table('role'), within('role_name', rn)))
  if (ei !== undefined) parts.push(select('env', dialect, table('env'), within('id', ei)))
  return sql`WITH ${join(lists)} ${join(parts, ' UNION ALL ')}`
}

/** Every row of every table the feed compares. */
const allQuery = (dialect: Dialect): Sql =>
  join((Object.keys(TABLES) as TableName[]).map(name => select(name, dialect, table(name))), ' UNION ALL ')

/**
 * The stored rows the visible state of the scope's entities depends on, in one statement; 'all' reads
 * every table. Tenants and users read only because memberships below them were come back as parents.
 */
export async function loadFeedRows (db: Queryable, dialect: Dialect, scope: FeedScope | 'all'): Promise<FeedRows> {
  const found = await db.$queryRaw<StoredRow[]>(scope === 'all' ? allQuery(dialect) : scopedQuery(scope, dialect))
  const rows = parseRows(found)
  const tenants = rows.tenant as Tenant[]
  const users = rows.user as User[]
  const own = <T extends { id: string }>(list: T[], ids: Set<string>): [T[], T[]] =>
    scope === 'all' ? [list, []] : [list.filter(r => ids.has(r.id)), list.filter(r => !ids.has(r.id))]
  const [ownTenants, parentTenants] = own(tenants, scope === 'all' ? new Set() : scope.tenantIds)
  const [ownUsers, parentUsers] = own(users, scope === 'all' ? new Set() : scope.userIds)
  return {
    tenants: ownTenants,
    users: ownUsers,
    parentTenants,
    parentUsers,
    memberships: rows.membership as TenantUser[],
    assignments: rows.assignment as TenantUserRole[],
    roles: rows.role as Role[],
    envs: rows.env as Env[],
    attributes: rows.attribute as AttributeValue[]
  }
}

/** A row as loadFeedRows' statement and the guarded upserts' RETURNING give it: its table, and its JSON (rowJson). */
export interface StoredRow { kind: TableName, row: string }

function parseRows (found: StoredRow[]): Record<TableName, unknown[]> {
  const rows: Record<TableName, unknown[]> = { tenant: [], user: [], membership: [], assignment: [], role: [], env: [], attribute: [] }
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
  role: r => r.roleName,
  env: r => String(r.id),
  attribute: r => JSON.stringify([r.scope, r.tenantId, r.userId, r.key])
}

/**
 * The rows after a write, from the rows read before it (loadFeedRows, under the feed's lock) and the rows its
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
    roles: merged('role', before.roles),
    envs: merged('env', before.envs),
    attributes: merged('attribute', before.attributes)
  }
}

/**
 * Takes the feed's lock: the one row every transaction that may record entries locks first and holds
 * until it commits (PostgreSQL; SQLite has one writer anyway). Writers that change the projected state
 * therefore run one at a time, so what each reads before and after its upserts is exactly what it changed,
 * and cursors are given out in commit order. Returns the newest cursor given out so far.
 */
export async function lockFeed (db: Queryable, dialect: Dialect): Promise<number> {
  const rows = await db.$queryRaw<Array<{ cursor: bigint | number }>>(sql`SELECT "cursor" FROM "feed_head" WHERE "id" = 1${dialect.forUpdate}`)
  return Number(rows[0].cursor)
}

/** The cause columns of an entry: event, reconcile or rebuild, and the event or run behind it. */
export interface EntryCause {
  cause: 'event' | 'reconcile' | 'rebuild'
  event?: EventRef
  runId?: string
}

const ENTRY_TYPES: ColumnType[] = ['bigint', 'text', 'json', 'text', 'json', 'text', 'text', 'text', 'timestamp', 'text', 'timestamp']

/**
 * Records the changes between two visible states after cursor `last` (taken with lockFeed), each with its
 * cause, moves the head and, on PostgreSQL, notifies listeners (delivered when the transaction commits).
 */
export async function recordFeed (
  db: Queryable,
  dialect: Dialect,
  last: number,
  before: FeedRows,
  after: FeedRows,
  causeOf: (change: FeedChange & { id: string }) => EntryCause,
  write: FeedWrite
): Promise<void> {
  const changes = feedChanges(visibleEntities(before), visibleEntities(after))
  if (changes.length === 0) return
  const now = new Date()
  const rows = changes.map((change, i) => {
    const { cause, event, runId } = causeOf(change)
    return [last + i + 1, change.entity, change.key, change.op, change.fields, cause, event?.id ?? null, event?.type ?? null, event?.time ?? null, runId ?? null, now]
  })
  await db.$executeRaw(sql`INSERT INTO "feed_entries"
    ("cursor", "entity", "key", "op", "fields", "cause", "event_id", "event_type", "event_time", "run_id", "recorded_at")
    ${dialect.rows(ENTRY_TYPES, rows)}`)
  const head = last + changes.length
  // PostgreSQL: listeners are notified in the same statement (delivered when the transaction commits).
  const notify = dialect.name === 'postgresql' ? sql` RETURNING pg_notify(${FEED_CHANNEL} || current_schema(), ${String(head)})` : sql``
  await db.$executeRaw(sql`UPDATE "feed_head" SET "cursor" = ${head} WHERE "id" = 1${notify}`)
  write.head = head
  for (const change of changes) write.entries.push({ entity: change.entity, op: change.op })
}

/** The PostgreSQL notification channel of a schema's feed: this prefix and the schema's name. */
export const FEED_CHANNEL = 'receiver_changes_'
