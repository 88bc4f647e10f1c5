import { isDeepStrictEqual } from 'node:util'
import type { AttributeValue, Env, Role, Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../../generated/sqlite/client.js'
import { attributeObject, membershipVisible, tenantPlan } from '../views.js'

// What the change feed compares: the visible state of every entity of a set of loaded rows, by the rules
// the read API uses (views.ts), and the entries that turn one such state into the next. Pure; no I/O.

export type FeedEntity = 'tenant' | 'user' | 'membership' | 'role_assignment' | 'membership_env' | 'role' | 'env'
export const FEED_ENTITIES: readonly FeedEntity[] = ['tenant', 'user', 'membership', 'role_assignment', 'membership_env', 'role', 'env']

/** Rows of every table, as loaded for the entities a write touches (or for all of them). */
export interface FeedRows {
  tenants: Tenant[]
  users: User[]
  /** Tenants and users read only because memberships below them were: not compared themselves. */
  parentTenants: Tenant[]
  parentUsers: User[]
  memberships: TenantUser[]
  assignments: TenantUserRole[]
  /** Envs listed for a membership without role (entities.ts tenant_user_env). */
  listings: TenantUserEnv[]
  roles: Role[]
  envs: Env[]
  attributes: AttributeValue[]
}

export type FeedKey = Record<string, string | number>

/** The key columns of each entity, in the order keys are shown. */
export const FEED_KEYS: Record<FeedEntity, readonly string[]> = {
  tenant: ['id'], user: ['id'], membership: ['tenant_id', 'user_id'], role_assignment: ['tenant_id', 'user_id', 'env_id', 'role_name'],
  membership_env: ['tenant_id', 'user_id', 'env_id'], role: ['role_name'], env: ['id']
}

/** One visible entity: its fields as the read API shows them; `attributes` is an object of keys. */
export interface VisibleEntity {
  entity: FeedEntity
  key: FeedKey
  fields: Record<string, unknown>
}

export interface AttributeChanges {
  set: Record<string, unknown>
  removed: string[]
}

/** A change of one entity's visible state: `fields` holds the changed fields' new values (upsert only). */
export interface FeedChange {
  entity: FeedEntity
  key: FeedKey
  op: 'upsert' | 'delete'
  fields: Record<string, unknown> | null
}

/** The identity of an entity in the feed: its kind and key values, as one string. */
export const subjectId = (entity: FeedEntity, key: FeedKey): string => JSON.stringify([entity, ...Object.values(key)])

const maxVersion = (versions: string[]): string => versions.reduce((a, b) => (a > b ? a : b), '')
const pair = (tenantId: string, userId: string): string => JSON.stringify([tenantId, userId])

/** Every entity of `rows` that the read API shows, by subject id. */
export function visibleEntities (rows: FeedRows): Map<string, VisibleEntity> {
  const out = new Map<string, VisibleEntity>()
  const put = (entity: FeedEntity, key: FeedKey, fields: Record<string, unknown>): void => {
    out.set(subjectId(entity, key), { entity, key, fields })
  }
  const attributes = new Map<string, AttributeValue[]>()
  for (const a of rows.attributes) {
    const owner = JSON.stringify([a.scope, a.tenantId, a.userId])
    attributes.set(owner, [...(attributes.get(owner) ?? []), a])
  }
  const attributesOf = (scope: string, tenantId: string, userId: string): AttributeValue[] =>
    attributes.get(JSON.stringify([scope, tenantId, userId])) ?? []

  const tenants = new Map([...rows.parentTenants, ...rows.tenants].map(t => [t.id, t]))
  const users = new Map([...rows.parentUsers, ...rows.users].map(u => [u.id, u]))
  for (const t of rows.tenants) {
    if (!t.live) continue
    // The plan as committed: a reservation takes effect in the feed when the activator records its instant.
    const plan = tenantPlan(t)
    put('tenant', { id: t.id }, {
      name: t.name,
      back_office_staff_email: t.backOfficeStaffEmail,
      plan_id: plan.plan_id,
      plan_histories: plan.plan_histories,
      next_plan: plan.next_plan,
      billing_info: t.billingInfo,
      attributes: attributeObject(attributesOf('tenant', t.id, ''), t.deletedV)
    })
  }
  for (const u of rows.users) {
    if (!u.live) continue
    put('user', { id: u.id }, { email: u.email, sign_in_id: u.signInId, attributes: attributeObject(attributesOf('user', '', u.id), u.deletedV) })
  }
  // Attributes and roles below a membership show only when written after every delete above them.
  const membershipAfter = new Map<string, string>()
  for (const m of rows.memberships) {
    const tenant = tenants.get(m.tenantId)
    const user = users.get(m.userId)
    if (!membershipVisible(m, tenant, user)) continue
    const after = maxVersion([tenant!.deletedV, user!.deletedV, m.deletedV])
    membershipAfter.set(pair(m.tenantId, m.userId), after)
    put('membership', { tenant_id: m.tenantId, user_id: m.userId }, {
      attributes: attributeObject(attributesOf('tenant_user', m.tenantId, m.userId), after)
    })
  }
  for (const r of rows.assignments) {
    const after = membershipAfter.get(pair(r.tenantId, r.userId))
    if (after === undefined || !r.live || r.liveV <= after) continue
    put('role_assignment', { tenant_id: r.tenantId, user_id: r.userId, env_id: Number(r.envId), role_name: r.roleName }, {})
  }
  // An env listed without role shows by the same rule as a role, whatever roles the env has: a reader's envs
  // of a membership are those of its role assignments and of its membership envs (docs/feed.md).
  for (const l of rows.listings) {
    const after = membershipAfter.get(pair(l.tenantId, l.userId))
    if (after === undefined || !l.live || l.liveV <= after) continue
    put('membership_env', { tenant_id: l.tenantId, user_id: l.userId, env_id: Number(l.envId) }, {})
  }
  for (const r of rows.roles) if (r.live) put('role', { role_name: r.roleName }, { display_name: r.displayName })
  for (const e of rows.envs) if (e.live) put('env', { id: Number(e.id) }, { name: e.name, display_name: e.displayName })
  return out
}

/** What changed in the attribute object: keys added or given another value, and keys gone. */
function attributeChanges (before: Record<string, unknown>, after: Record<string, unknown>): AttributeChanges | undefined {
  const set = Object.fromEntries(Object.entries(after).filter(([k, v]) => !(k in before) || !isDeepStrictEqual(before[k], v)))
  const removed = Object.keys(before).filter(k => !(k in after))
  return Object.keys(set).length === 0 && removed.length === 0 ? undefined : { set, removed }
}

/** The changed fields of an entity visible before and after; undefined when it shows the same. */
function changedFields (before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(after)) {
    if (field === 'attributes') {
      const changes = attributeChanges(before.attributes as Record<string, unknown>, value as Record<string, unknown>)
      if (changes !== undefined) out.attributes = changes
    } else if (!isDeepStrictEqual(before[field], value)) out[field] = value
  }
  return Object.keys(out).length === 0 ? undefined : out
}

/** Every field of an entity that appears: attributes as all keys set. */
function allFields (fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([field, value]) =>
    field === 'attributes' ? [field, { set: value, removed: [] }] : [field, value]))
}

const rank = (entity: FeedEntity): number => FEED_ENTITIES.indexOf(entity)

/**
 * The changes from one visible state to the next: an upsert with every field for an entity that appears,
 * with the changed fields for one that shows something else, a delete for one that disappears; nothing for
 * one that shows the same. In entity order (tenants first), then by key.
 */
export function feedChanges (before: Map<string, VisibleEntity>, after: Map<string, VisibleEntity>): Array<FeedChange & { id: string }> {
  const out: Array<FeedChange & { id: string }> = []
  for (const [id, now] of after) {
    const was = before.get(id)
    if (was === undefined) out.push({ id, entity: now.entity, key: now.key, op: 'upsert', fields: allFields(now.fields) })
    else {
      const fields = changedFields(was.fields, now.fields)
      if (fields !== undefined) out.push({ id, entity: now.entity, key: now.key, op: 'upsert', fields })
    }
  }
  for (const [id, was] of before) if (!after.has(id)) out.push({ id, entity: was.entity, key: was.key, op: 'delete', fields: null })
  return out.sort((a, b) => rank(a.entity) - rank(b.entity) || (a.id < b.id ? -1 : 1)) // ids are unique
}
