import type { CollapsedRow } from '../writing/collapse.js'
import type { FeedRows } from './feed-views.js'

// What a batch's write touches: the rows the feed reads before and after it, and the locks it takes.

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

function emptyScope (): FeedScope {
  return { tenantIds: new Set(), userIds: new Set(), memberUsers: new Set(), memberTenants: new Set(), parentTenants: new Set(), roleNames: new Set(), envIds: new Set() }
}

/** The scope of a batch's collapsed rows, attribute owners and plan changes (whose tenants they change). */
export function scopeOf (rows: CollapsedRow[], attributeOwners: Array<{ scope: string, tenantId: string, userId: string }>, plans: Array<{ tenantId: string }> = []): FeedScope {
  const scope = emptyScope()
  for (const { entity, key } of rows) {
    if (entity === 'tenant') scope.tenantIds.add(key.id as string)
    else if (entity === 'user') scope.userIds.add(key.id as string)
    else if (entity === 'tenant_user' || entity === 'tenant_user_role' || entity === 'tenant_user_env') {
      scope.memberUsers.add(key.user_id as string)
      scope.parentTenants.add(key.tenant_id as string)
    } else if (entity === 'role') scope.roleNames.add(key.role_name as string)
    else scope.envIds.add(key.id as number)
  }
  for (const p of plans) scope.tenantIds.add(p.tenantId)
  for (const a of attributeOwners) {
    if (a.scope === 'tenant') scope.tenantIds.add(a.tenantId)
    else if (a.scope === 'user') scope.userIds.add(a.userId)
    else {
      // A membership's attributes: read with the user's memberships, below the tenant (locked from the start).
      scope.memberUsers.add(a.userId)
      scope.parentTenants.add(a.tenantId)
    }
  }
  return scope
}

/**
 * Tenants and users of the batch whose delete or (re)appearance may hide or show what hangs below them:
 * their memberships must be read too. `rows` are their stored rows before the write. Adds them to the
 * scope and returns the scope of those not read yet (undefined: none). Says more rather than less: reading a
 * membership that turns out unchanged costs a little, missing one loses an entry.
 */
export function widenForCascades (scope: FeedScope, batch: CollapsedRow[], rows: FeedRows): FeedScope | undefined {
  const stored = new Map<string, { live: boolean, liveV: string, deletedV: string }>([
    ...rows.tenants.map(t => [`tenant:${t.id}`, t] as const),
    ...rows.users.map(u => [`user:${u.id}`, u] as const)
  ])
  const more = emptyScope()
  for (const row of batch) {
    if (row.entity !== 'tenant' && row.entity !== 'user') continue
    const id = row.key.id as string
    const before = stored.get(`${row.entity}:${id}`)
    const live = row.registers.get('live')! // every change writes `live`
    const cascades = before === undefined ||
      (live.version > before.liveV && live.value !== before.live) ||
      (row.deleted !== undefined && row.deleted.version > before.deletedV)
    if (!cascades) continue
    const [set, added] = row.entity === 'tenant' ? [scope.memberTenants, more.memberTenants] : [scope.memberUsers, more.memberUsers]
    if (!set.has(id)) { set.add(id); added.add(id) }
  }
  return more.memberTenants.size + more.memberUsers.size === 0 ? undefined : more
}
