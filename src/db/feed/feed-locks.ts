import { sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { Dialect } from '../engines/dialect.js'
import type { RawQueryable } from '../engines/driver-adapter.js'
import type { FeedRows } from './feed-views.js'
import type { FeedScope } from './feed-scope.js'

// What lets PostgreSQL's writers run at once while each one's before/after comparison stays exact: locks on
// the entities whose rows a write reads or writes (transaction-scoped advisory locks), instead of one lock
// for all. Two writes whose entries could concern the same entity always share one of these locks, so they
// run one after the other; the others run together. SQLite has one writer and takes none.
//
// - Keys: `tenant:<id>`, `user:<id>`, `role:<name>`, `env:<id>`, and `*` (every writer), each hashed with
//   the schema's name to a 64-bit advisory key (hashtextextended), so that schemas sharing a database do not
//   block each other. Rows map to keys: a tenant's row and attributes to its key, a user's likewise, a
//   membership's rows (and its role assignments and attributes) to both its tenant's and its user's key,
//   role and env definitions to theirs. A write that writes a membership holds both; one that reads it holds
//   at least one (it reads the memberships of a user or of a tenant), then, after its read, the other too.
// - Every writer takes `*` shared, then its keys sorted by their 64-bit value, in one statement: writers
//   wait for each other in one global order and never deadlock. A write whose scope is every row (a
//   rebuild), or that needs more than MAX_KEYS keys (a reconciliation chunk: PostgreSQL's lock table is
//   small, max_locks_per_transaction × max_connections), takes `*` exclusively instead and nothing else.
// - A write learns some keys only from its read: the tenants and users of the memberships it read below a
//   tenant or user it writes (their rows decide what is visible below them: parentKeys). It takes those with
//   pg_try_advisory_xact_lock, which never waits (so no deadlock), and reads their rows again (read before
//   it held them, they may be stale). When one is held by another transaction it throws FeedLockConflict:
//   the whole transaction rolls back and runs again (Repository) with the keys learned taken first, in
//   order. After MAX_CONFLICTS such retries it takes `*` exclusively, which always succeeds.

/** Most keys a write takes one by one; past it, the feed's lock exclusively. */
export const MAX_KEYS = 256
/** Retries after a conflict before a write takes the feed's lock exclusively. */
export const MAX_CONFLICTS = 3

/**
 * Thrown inside a transaction whose read found rows locked by another writer: roll the transaction back and
 * run it again at once (its FeedLocks remember the keys to take first). Not a failure: never counted as a retry.
 */
export class FeedLockConflict extends Error {
  override name = 'FeedLockConflict'
}

/** A 64-bit advisory lock key of this schema's feed: `key` (text) hashed with the schema's name. */
const advisoryKey = (key: Sql): Sql => sql`hashtextextended(current_schema() || ':' || ${key}, 0)`
const ALL = advisoryKey(sql`'*'`)

/** The keys of the entities a scope reads or writes (scopeOf, widenForCascades). */
export function scopeKeys (scope: FeedScope): string[] {
  return [
    ...[...scope.tenantIds, ...scope.parentTenants, ...scope.memberTenants].map(id => `tenant:${id}`),
    ...[...scope.userIds, ...scope.memberUsers].map(id => `user:${id}`),
    ...[...scope.roleNames].map(name => `role:${name}`),
    ...[...scope.envIds].map(id => `env:${id}`)
  ]
}

/**
 * The keys of the tenants and users above the memberships (with their role assignments and attributes) read
 * whose tenant's or user's row the batch writes: what the batch shows of them before and after depends on
 * those parents' rows. A membership read that the batch writes itself has both parents locked from the start
 * (scopeOf); one neither written nor below a row written shows the same before and after, whatever its
 * parents hold, and records nothing.
 */
export function parentKeys (scope: FeedScope, rows: FeedRows): string[] {
  const keys: string[] = []
  const below = (tenantId: string, userId: string): void => {
    if (scope.tenantIds.has(tenantId) || scope.userIds.has(userId)) keys.push(`tenant:${tenantId}`, `user:${userId}`)
  }
  for (const r of [...rows.memberships, ...rows.assignments, ...rows.listings]) below(r.tenantId, r.userId)
  for (const a of rows.attributes) if (a.scope === 'tenant_user') below(a.tenantId, a.userId)
  return keys
}

/**
 * The locks of one write, across the attempts of its transaction: the keys held in this attempt, and what
 * earlier attempts learned (the keys to take first, or that the feed's lock is to be taken exclusively).
 */
export class FeedLocks {
  #held = new Set<string>()
  readonly #learned = new Set<string>()
  #exclusive = false
  #conflicts = 0

  /** A new attempt: nothing held yet; what was learned stays. */
  restart (): void {
    this.#held = new Set()
  }

  /** Whether this attempt holds (or is to take) the feed's lock exclusively: every row is its own. */
  get exclusive (): boolean {
    return this.#exclusive
  }

  /**
   * The expression that takes this write's locks when its statement runs: the feed's lock shared and `keys`
   * (with those learned before) in their 64-bit order, or the feed's lock exclusively. PostgreSQL only.
   */
  take (keys: string[]): Sql {
    for (const key of keys) this.#held.add(key)
    for (const key of this.#learned) this.#held.add(key)
    if (this.#held.size > MAX_KEYS) this.#exclusive = true
    if (this.#exclusive) return sql`(SELECT count(*) FROM (SELECT pg_advisory_xact_lock(${ALL})) AS "l")`
    // The sorted subquery is not flattened (ORDER BY): the locks are taken row by row in its order, each
    // waiting for its holder; `*` comes first (n = 0), shared.
    return sql`(SELECT count(*) FROM (SELECT CASE WHEN "n" = 0 THEN pg_advisory_xact_lock_shared("k") ELSE pg_advisory_xact_lock("k") END
      FROM (SELECT 0 AS "n", ${ALL} AS "k" UNION SELECT 1, ${advisoryKey(sql`"x"`)} FROM json_array_elements_text(${JSON.stringify([...this.#held])}::json) AS "x") AS "u"
      ORDER BY "n", "k") AS "l")`
  }

  /**
   * Takes the keys of `needed` not held yet, without waiting, and returns them (none: all were held; the
   * caller reads again what they protect). Throws FeedLockConflict (after noting them for the next attempt)
   * when another transaction holds one, or when there are too many for one by one.
   */
  async grow (db: RawQueryable, needed: string[]): Promise<string[]> {
    if (this.#exclusive) return []
    const missing = [...new Set(needed)].filter(key => !this.#held.has(key))
    if (missing.length === 0) return []
    for (const key of missing) this.#held.add(key)
    if (this.#held.size <= MAX_KEYS) {
      const [{ taken }] = await db.$queryRaw<Array<{ taken: boolean }>>(sql`SELECT bool_and(pg_try_advisory_xact_lock(${advisoryKey(sql`"x"`)})) AS "taken"
        FROM json_array_elements_text(${JSON.stringify(missing)}::json) AS "x"`)
      if (taken) return missing
    }
    for (const key of this.#held) this.#learned.add(key)
    if (this.#learned.size > MAX_KEYS || ++this.#conflicts > MAX_CONFLICTS) this.#exclusive = true
    throw new FeedLockConflict(`another write holds the lock of one of ${missing.length} entities read: trying again with them locked first`)
  }
}

/** Takes the feed's lock exclusively (a rebuild: every row is its own); nothing on an engine with one writer. */
export async function lockWholeFeed (db: RawQueryable, dialect: Dialect): Promise<void> {
  if (dialect.concurrentWriters) await db.$queryRaw(sql`SELECT count(*) FROM (SELECT pg_advisory_xact_lock(${ALL})) AS "l"`)
}
