import { sqltag as sql } from '@prisma/client/runtime/client'
import type { PrismaClient } from '../../generated/sqlite/client.js'
import type { CollapsedRow } from '../writing/collapse.js'
import type { ColumnType, Dialect } from '../engines/dialect.js'
import { feedChanges, visibleEntities, type FeedChange, type FeedEntity, type FeedRows } from './feed-views.js'

// The change feed's SQL: the lock that orders writers, the rows a write's visible state depends on (read
// before and after the guarded upserts), the entries, and reading and pruning them.

/** The part of a Prisma client (or transaction) the write path uses. */
export type Queryable = Pick<PrismaClient, '$executeRaw' | '$queryRaw' | 'tenant' | 'user' | 'tenantUser' | 'tenantUserRole' | 'role' | 'env' | 'attributeValue'>

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
  roleNames: Set<string>
  envIds: Set<number>
}

/** The scope of a batch's collapsed rows and attribute owners. */
export function scopeOf (rows: CollapsedRow[], attributeOwners: Array<{ scope: string, tenantId: string, userId: string }>): FeedScope {
  const scope: FeedScope = {
    tenantIds: new Set(), userIds: new Set(), memberUsers: new Set(), memberTenants: new Set(), roleNames: new Set(), envIds: new Set()
  }
  for (const { entity, key } of rows) {
    if (entity === 'tenant') scope.tenantIds.add(key.id as string)
    else if (entity === 'user') scope.userIds.add(key.id as string)
    else if (entity === 'tenant_user' || entity === 'tenant_user_role') scope.memberUsers.add(key.user_id as string)
    else if (entity === 'role') scope.roleNames.add(key.role_name as string)
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

const list = <T>(set: Set<T>): T[] => [...set]
const partition = <T>(items: T[], test: (item: T) => boolean): [T[], T[]] => [items.filter(test), items.filter(i => !test(i))]

/** The stored rows the visible state of the scope's entities depends on; 'all' reads every table. */
export async function loadFeedRows (db: Queryable, scope: FeedScope | 'all'): Promise<FeedRows> {
  if (scope === 'all') {
    const [tenants, users, memberships, assignments, roles, envs, attributes] = [
      await db.tenant.findMany(), await db.user.findMany(), await db.tenantUser.findMany(), await db.tenantUserRole.findMany(),
      await db.role.findMany(), await db.env.findMany(), await db.attributeValue.findMany()
    ]
    return { tenants, users, parentTenants: [], parentUsers: [], memberships, assignments, roles, envs, attributes }
  }
  const below = [
    ...(scope.memberUsers.size > 0 ? [{ userId: { in: list(scope.memberUsers) } }] : []),
    ...(scope.memberTenants.size > 0 ? [{ tenantId: { in: list(scope.memberTenants) } }] : [])
  ]
  const none = below.length === 0
  const memberships = none ? [] : await db.tenantUser.findMany({ where: { OR: below } })
  const assignments = none ? [] : await db.tenantUserRole.findMany({ where: { OR: below } })
  const memberAttributes = none ? [] : await db.attributeValue.findMany({ where: { scope: 'tenant_user', OR: below } })
  // Memberships show only below a live tenant and user: read those rows too (as parents only: which
  // memberships exist may differ before and after the write, and with them which parents are read).
  const tenantIds = new Set([...scope.tenantIds, ...memberships.map(m => m.tenantId)])
  const userIds = new Set([...scope.userIds, ...memberships.map(m => m.userId)])
  const allTenants = tenantIds.size === 0 ? [] : await db.tenant.findMany({ where: { id: { in: list(tenantIds) } } })
  const allUsers = userIds.size === 0 ? [] : await db.user.findMany({ where: { id: { in: list(userIds) } } })
  const [tenants, parentTenants] = partition(allTenants, t => scope.tenantIds.has(t.id))
  const [users, parentUsers] = partition(allUsers, u => scope.userIds.has(u.id))
  const owners = [
    ...(scope.tenantIds.size > 0 ? [{ scope: 'tenant', tenantId: { in: list(scope.tenantIds) } }] : []),
    ...(scope.userIds.size > 0 ? [{ scope: 'user', userId: { in: list(scope.userIds) } }] : [])
  ]
  const ownAttributes = owners.length === 0 ? [] : await db.attributeValue.findMany({ where: { OR: owners } })
  const roles = scope.roleNames.size === 0 ? [] : await db.role.findMany({ where: { roleName: { in: list(scope.roleNames) } } })
  const envs = scope.envIds.size === 0 ? [] : await db.env.findMany({ where: { id: { in: list(scope.envIds) } } })
  return { tenants, users, parentTenants, parentUsers, memberships, assignments, roles, envs, attributes: [...ownAttributes, ...memberAttributes] }
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
  await db.$executeRaw(sql`UPDATE "feed_head" SET "cursor" = ${head} WHERE "id" = 1`)
  if (dialect.name === 'postgresql') await db.$executeRaw(sql`SELECT pg_notify(${FEED_CHANNEL} || current_schema(), ${String(head)})`)
  write.head = head
  for (const change of changes) write.entries.push({ entity: change.entity, op: change.op })
}

/** The PostgreSQL notification channel of a schema's feed: this prefix and the schema's name. */
export const FEED_CHANNEL = 'receiver_changes_'
