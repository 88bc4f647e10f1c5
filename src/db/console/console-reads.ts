import { empty, join, raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../../generated/sqlite/client.js'
import { membershipEnvs, membershipVisible, tenantPlan, tenantView, userView, type TenantView, type UserView } from '../views.js'
import type { Repository } from '../repository.js'
import { FEED_KEYS, type FeedEntity } from '../feed/feed-views.js'
import { cutColumn, cutText } from './list-text.js'

// What the operator console reads (issue 15): counts for the overview, the event list with its filters,
// what an event wrote, and searches and pages of tenants and users. Every list is paged with a keyset
// cursor and a limit: no page loads an unbounded list.

export interface EventFilter {
  type?: string
  outcome?: string
  /** Events about this tenant: naming it (src/events/subjects.ts), or that changed it or a membership or role in it (the change feed). */
  tenant?: string
  /** Events about this user: naming it, or that changed it or a membership or role of it (the change feed). */
  user?: string
  /** Received at or after / before. */
  from?: Date
  to?: Date
}

export interface EventRow {
  id: string
  event_type: string
  time: Date
  received_at: Date
  outcome: string
}

/** Where a keyset page ends: the next page starts after it. */
export interface EventCursor { receivedAt: Date, id: string }

export interface CountRow { event_type: string, outcome: string, count: number }

/** The overview's counts: rows per type and outcome of the newest `counted` events, and the `total` received. */
export interface EventCounts { rows: CountRow[], total: number, counted: number }

/** Event types the overview charts by name; the others are summed as OTHER_TYPES. */
export const CHART_TYPES = 10
export const OTHER_TYPES = '(other types)'
/** Characters of an event type the overview shows: a longer one is cut, with an ellipsis. */
export const LABEL_MAX = 80
/** Events the overview's breakdown by type reads at most (newest first), and per statement. */
export const COUNTED_MAX = 50_000
export const COUNTED_CHUNK = 5_000

export interface WrittenRow {
  entity: string
  key: Record<string, unknown>
  op: string
  fields: unknown
}

export interface Listed { id: string, label: string | null, detail: string | null }

/** A version's origin: an event (by envelope id) or a reconciliation run, and the time it carries. */
export interface LastChange { time: Date, event_id: string | null, run_id: string | null }

export interface MembershipRow { tenant_id: string, user_id: string, envs: Array<{ env_id: number, roles: string[] }> }

export interface TenantPage { tenant: TenantView, last_change: LastChange | null, users: MembershipRow[], next: string | null }
export interface UserPage { user: UserView, last_change: LastChange | null, tenants: MembershipRow[], next: string | null }

// The expressions of the migration's feed_entries_tenant_idx / _user_idx indexes, per engine: the same
// text, so that the engines use them.
const FEED_OWNER: Record<'sqlite' | 'postgresql', { tenant: string, user: string }> = {
  sqlite: {
    tenant: `(CASE WHEN "entity" = 'tenant' THEN "key" ->> '$.id' ELSE "key" ->> '$.tenant_id' END)`,
    user: `(CASE WHEN "entity" = 'user' THEN "key" ->> '$.id' ELSE "key" ->> '$.user_id' END)`
  },
  postgresql: {
    tenant: `(CASE WHEN "entity" = 'tenant' THEN "key" ->> 'id' ELSE "key" ->> 'tenant_id' END)`,
    user: `(CASE WHEN "entity" = 'user' THEN "key" ->> 'id' ELSE "key" ->> 'user_id' END)`
  }
}

/** The overview's row for quarantined items. */
export const REFUSED = '(refused)'

/** `text` as a LIKE pattern matching it anywhere, its own wildcards escaped (ESCAPE '\'). */
export const containsPattern = (text: string): string => `%${text.toLowerCase().replace(/[\\%_]/g, c => `\\${c}`)}%`

const maxVersion = (versions: string[]): string => versions.reduce((a, b) => (a > b ? a : b), '')

/** Who wrote a version (src/events/version.ts): `<time>:<rank>:<envelope id>` or `<time>:-:reconcile:<run id>`. */
export function lastChange (versions: string[]): LastChange | null {
  const version = maxVersion(versions)
  const match = /^(\d+):([-0-9]):(.*)$/s.exec(version)
  if (match === null) return null
  const time = new Date(Number(match[1]))
  return match[2] === '-'
    ? { time, event_id: null, run_id: match[3].replace(/^reconcile:/, '') }
    : { time, event_id: match[3], run_id: null }
}

export class ConsoleReads {
  constructor (readonly repository: Repository) {}

  get #prisma () { return this.repository.prisma }

  /**
   * Events received since `since`: how many (an index count), and per type and outcome for the newest
   * COUNTED_MAX of them, read COUNTED_CHUNK at a time with a turn for other work in between (a day of 300k
   * events never freezes the process), types cut to LABEL_MAX characters, the CHART_TYPES most frequent named
   * and the rest summed as OTHER_TYPES; last, as type `(refused)`, the quarantined items refused again or
   * first since then (refused items have no trusted type).
   */
  async eventCounts (since: Date, { max, chunk } = { max: COUNTED_MAX, chunk: COUNTED_CHUNK }): Promise<EventCounts> {
    const [[{ total }], refused] = await Promise.all([
      this.#prisma.$queryRaw<Array<{ total: bigint | number }>>(sql`SELECT COUNT(*) AS "total" FROM "events" WHERE "received_at" >= ${since}`),
      this.#prisma.quarantinedEvent.count({ where: { lastSeenAt: { gte: since } } })
    ])
    const byType = new Map<string, Map<string, number>>()
    let counted = 0
    let cursor: { at: Date, id: string } | undefined
    while (counted < max) {
      const rows = await this.#prisma.$queryRaw<Array<{ id: string, received_at: Date | string, type: string, outcome: string }>>(sql`SELECT "id",
        "received_at", ${cutColumn('event_type', 'type', LABEL_MAX)}, "outcome" FROM "events" WHERE "received_at" >= ${since}
        ${cursor === undefined ? empty : sql`AND ("received_at" < ${cursor.at} OR ("received_at" = ${cursor.at} AND "id" < ${cursor.id}))`}
        ORDER BY "received_at" DESC, "id" DESC LIMIT ${Math.min(chunk, max - counted)}`)
      for (const row of rows) {
        const type = cutText(row.type, LABEL_MAX)
        const outcomes = byType.get(type) ?? byType.set(type, new Map()).get(type)!
        outcomes.set(row.outcome, (outcomes.get(row.outcome) ?? 0) + 1)
      }
      counted += rows.length
      if (rows.length < chunk) break
      const last = rows[rows.length - 1]
      cursor = { at: new Date(last.received_at), id: last.id }
      await new Promise(resolve => setImmediate(resolve))
    }
    const sum = (outcomes: Map<string, number>): number => [...outcomes.values()].reduce((a, b) => a + b, 0)
    const ranked = [...byType].sort(([a, x], [b, y]) => sum(y) - sum(x) || (a < b ? -1 : 1))
    const other = new Map<string, number>()
    for (const [, outcomes] of ranked.slice(CHART_TYPES)) for (const [outcome, n] of outcomes) other.set(outcome, (other.get(outcome) ?? 0) + n)
    const shown = [...ranked.slice(0, CHART_TYPES), ...(other.size > 0 ? [[OTHER_TYPES, other] as const] : [])]
    const rows = shown.flatMap(([type, outcomes]) => [...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([outcome, count]) => ({ event_type: type, outcome, count })))
    return {
      rows: refused === 0 ? rows : [...rows, { event_type: REFUSED, outcome: 'rejected', count: refused }],
      total: Number(total) + refused,
      counted
    }
  }

  /**
   * Newest first, `limit` at most, after `cursor`; `next` is where the following page starts. An event is
   * about a tenant (or user) when its row names it (every event stored since migration
   * 20261202140000_event_subjects, whatever its outcome) or when its change feed entries concern it (cascades,
   * such as the memberships a user's delete hid, and events stored before that migration, within the feed's
   * retention). The first such filter reads two keyset pages, one through each index, merged: no full scan.
   */
  async events (filter: EventFilter, limit: number, cursor?: EventCursor): Promise<{ items: EventRow[], next: EventCursor | null }> {
    const owner = FEED_OWNER[this.repository.dialect.name]
    const conditions: Sql[] = []
    if (filter.type !== undefined) conditions.push(sql`"event_type" = ${filter.type}`)
    if (filter.outcome !== undefined) conditions.push(sql`"outcome" = ${filter.outcome}`)
    if (filter.from !== undefined) conditions.push(sql`"received_at" >= ${filter.from}`)
    if (filter.to !== undefined) conditions.push(sql`"received_at" < ${filter.to}`)
    if (cursor !== undefined) {
      conditions.push(sql`("received_at" < ${cursor.receivedAt} OR ("received_at" = ${cursor.receivedAt} AND "id" < ${cursor.id}))`)
    }
    const subjects = (['tenant', 'user'] as const).flatMap(kind => {
      const id = filter[kind]
      return id === undefined
        ? []
        : [{
            named: sql`${raw(`"${kind}_id"`)} = ${id}`,
            fed: sql`"id" IN (SELECT "event_id" FROM "feed_entries" WHERE ${raw(owner[kind])} = ${id} AND "cause" = 'event')`
          }]
    })
    const page = (more: Sql[]): Sql => {
      const all = [...conditions, ...more]
      return sql`SELECT "id", "received_at" FROM "events" ${all.length === 0 ? empty : sql`WHERE ${join(all, ' AND ')}`}
        ORDER BY "received_at" DESC, "id" DESC LIMIT ${limit + 1}`
    }
    let query = page([])
    if (subjects.length > 0) {
      const [first, ...rest] = subjects
      const others = rest.map(s => sql`(${s.named} OR ${s.fed})`)
      query = sql`SELECT "id" FROM (SELECT * FROM (${page([first.named, ...others])}) AS "named"
        UNION SELECT * FROM (${page([first.fed, ...others])}) AS "fed") AS "matched" ORDER BY "received_at" DESC, "id" DESC LIMIT ${limit + 1}`
    }
    const ids = await this.#prisma.$queryRaw<Array<{ id: string }>>(query)
    const shown = ids.slice(0, limit).map(r => r.id)
    const rows = shown.length === 0
      ? []
      : await this.#prisma.$queryRaw<Array<{ id: string, event_type: string, time: Date | string, received_at: Date | string, outcome: string }>>(sql`SELECT "id",
        ${cutColumn('event_type', 'event_type')}, "time", "received_at", "outcome" FROM "events" WHERE "id" IN (${join(shown)})`)
    const byId = new Map(rows.map(r => [r.id, r]))
    const items = shown.map(id => byId.get(id)!).map(r => ({
      id: r.id, event_type: cutText(r.event_type), time: new Date(r.time), received_at: new Date(r.received_at), outcome: r.outcome
    }))
    const last = items[items.length - 1]
    return { items, next: ids.length > limit ? { receivedAt: last.received_at, id: last.id } : null }
  }

  /** The change feed entries an event recorded: the rows it wrote (at most `limit`; `more` when there are others). */
  async eventWrites (eventId: string, limit: number): Promise<{ rows: WrittenRow[], more: boolean }> {
    const rows = await this.#prisma.feedEntry.findMany({ where: { eventId, cause: 'event' }, orderBy: { cursor: 'asc' }, take: limit + 1 })
    return {
      rows: rows.slice(0, limit).map(r => ({
        entity: r.entity,
        // In the entity's key order (PostgreSQL's jsonb keeps its own).
        key: Object.fromEntries(FEED_KEYS[r.entity as FeedEntity].map(k => [k, (r.key as Record<string, unknown>)[k]])),
        op: r.op,
        fields: r.fields
      })),
      more: rows.length > limit
    }
  }

  /** Live tenants whose id, name or back-office e-mail contains `query` (any case), by id, after `cursor`. */
  async searchTenants (query: string, limit: number, cursor?: string): Promise<{ items: Listed[], next: string | null }> {
    const pattern = containsPattern(query)
    const rows = await this.#prisma.$queryRaw<Array<{ id: string, name: string | null, email: string | null }>>(sql`SELECT "id", ${cutColumn('name', 'name')},
      ${cutColumn('back_office_staff_email', 'email')} FROM "tenants" WHERE "live" = ${true}
      AND (LOWER("id") LIKE ${pattern} ESCAPE '\\' OR LOWER("name") LIKE ${pattern} ESCAPE '\\' OR LOWER("back_office_staff_email") LIKE ${pattern} ESCAPE '\\')
      ${cursor === undefined ? empty : sql`AND "id" > ${cursor}`} ORDER BY "id" LIMIT ${limit + 1}`)
    return listed(rows.map(r => ({ id: r.id, label: cutText(r.name), detail: cutText(r.email) })), limit)
  }

  /** Live users whose id, e-mail or sign-in id contains `query` (any case), by id, after `cursor`. */
  async searchUsers (query: string, limit: number, cursor?: string): Promise<{ items: Listed[], next: string | null }> {
    const pattern = containsPattern(query)
    const rows = await this.#prisma.$queryRaw<Array<{ id: string, email: string | null, sign_in_id: string | null }>>(sql`SELECT "id", ${cutColumn('email', 'email')},
      ${cutColumn('sign_in_id', 'sign_in_id')} FROM "users" WHERE "live" = ${true}
      AND (LOWER("id") LIKE ${pattern} ESCAPE '\\' OR LOWER("email") LIKE ${pattern} ESCAPE '\\' OR LOWER("sign_in_id") LIKE ${pattern} ESCAPE '\\')
      ${cursor === undefined ? empty : sql`AND "id" > ${cursor}`} ORDER BY "id" LIMIT ${limit + 1}`)
    return listed(rows.map(r => ({ id: r.id, label: cutText(r.email), detail: cutText(r.sign_in_id) })), limit)
  }

  /** A live tenant with one page of its users (by user id, after `cursor`) and their envs and roles. */
  async tenantPage (id: string, limit: number, cursor?: string, nowMs: number = Date.now()): Promise<TenantPage | undefined> {
    const tenant = await this.#prisma.tenant.findFirst({ where: { id, live: true } })
    if (tenant === null) return undefined
    const [attributes, memberships] = await Promise.all([
      this.#prisma.attributeValue.findMany({ where: { scope: 'tenant', tenantId: id }, take: 1000 }),
      this.#prisma.tenantUser.findMany({
        where: { tenantId: id, live: true, ...(cursor === undefined ? {} : { userId: { gt: cursor } }) },
        orderBy: { userId: 'asc' },
        take: limit + 1
      })
    ])
    const shown = memberships.slice(0, limit)
    const users = await this.#prisma.user.findMany({ where: { id: { in: shown.map(m => m.userId) }, live: true } })
    const below = { tenantId: id, userId: { in: shown.map(m => m.userId) }, live: true }
    const [roles, listings] = await Promise.all([this.#prisma.tenantUserRole.findMany({ where: below }), this.#prisma.tenantUserEnv.findMany({ where: below })])
    const view = tenantView(tenant, attributes, [], new Map(), nowMs)
    const written = attributes.filter(a => a.v > tenant.deletedV).map(a => a.v)
    return {
      tenant: view,
      last_change: lastChange([tenant.liveV, tenant.nameV, tenant.backOfficeStaffEmailV, tenant.planIdV, tenant.planHistoriesV,
        tenant.nextPlanV, tenant.billingInfoV, tenantPlan(tenant, nowMs).changed_v, ...written]),
      users: membershipRows(shown, new Map([[tenant.id, tenant]]), new Map(users.map(u => [u.id, u])), roles, listings),
      next: memberships.length > limit ? shown[shown.length - 1].userId : null
    }
  }

  /** A live user with one page of its tenants (by tenant id, after `cursor`) and its envs and roles in each. */
  async userPage (id: string, limit: number, cursor?: string): Promise<UserPage | undefined> {
    const user = await this.#prisma.user.findFirst({ where: { id, live: true } })
    if (user === null) return undefined
    const [attributes, memberships] = await Promise.all([
      this.#prisma.attributeValue.findMany({ where: { scope: 'user', userId: id }, take: 1000 }),
      this.#prisma.tenantUser.findMany({
        where: { userId: id, live: true, ...(cursor === undefined ? {} : { tenantId: { gt: cursor } }) },
        orderBy: { tenantId: 'asc' },
        take: limit + 1
      })
    ])
    const shown = memberships.slice(0, limit)
    const tenants = await this.#prisma.tenant.findMany({ where: { id: { in: shown.map(m => m.tenantId) }, live: true } })
    const below = { userId: id, tenantId: { in: shown.map(m => m.tenantId) }, live: true }
    const [roles, listings] = await Promise.all([this.#prisma.tenantUserRole.findMany({ where: below }), this.#prisma.tenantUserEnv.findMany({ where: below })])
    const own = attributes.filter(a => a.v > user.deletedV).map(a => a.v)
    return {
      user: userView(user, attributes, [], new Map(), [], []),
      last_change: lastChange([user.liveV, user.emailV, user.signInIdV, ...own]),
      tenants: membershipRows(shown, new Map(tenants.map(t => [t.id, t])), new Map([[user.id, user]]), roles, listings),
      next: memberships.length > limit ? shown[shown.length - 1].tenantId : null
    }
  }
}

function listed (rows: Listed[], limit: number): { items: Listed[], next: string | null } {
  const items = rows.slice(0, limit)
  return { items, next: rows.length > limit ? items[items.length - 1].id : null }
}

/**
 * The visible memberships among `memberships`, each with its envs and roles, by the read API's rules
 * (views.ts): a role or an env listed without role counts only if written after the newest delete of its
 * tenant, user and membership.
 */
function membershipRows (
  memberships: TenantUser[], tenants: Map<string, Tenant>, users: Map<string, User>, roles: TenantUserRole[], listings: TenantUserEnv[]
): MembershipRow[] {
  const rows: MembershipRow[] = []
  for (const m of memberships) {
    const tenant = tenants.get(m.tenantId)
    const user = users.get(m.userId)
    if (!membershipVisible(m, tenant, user)) continue
    const after = maxVersion([tenant!.deletedV, user!.deletedV, m.deletedV])
    rows.push({ tenant_id: m.tenantId, user_id: m.userId, envs: membershipEnvs(m.tenantId, m.userId, after, roles, listings) })
  }
  return rows
}
