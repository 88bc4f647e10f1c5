import type { AttributeValue, Env, Role, Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../generated/sqlite/client.js'
import { attributes, put, remove, REMOVED, type Change } from '../events/changes.js'
import { ENTITIES, type Entity } from '../events/entities.js'
import type { Version } from '../events/version.js'
import { attributeObject, membershipVisible, tenantPlan } from '../db/views.js'
import { effectivePlan, type PlanState } from '../events/plan-state.js'
import type { SaasusEnv, SaasusRole, SaasusSaasUser, SaasusTenant, SaasusTenantUser } from '../schemas/saasus-api.js'
import type { ChangeKind, ReportEntity } from './drift.js'

// Pure: a part of the snapshot and the local rows it concerns -> the guarded changes that make the read API
// show the snapshot, at the snapshot's version. Only what differs from what is visible is written (a
// re-run on an unchanged copy writes nothing); the version floor, raised once the whole snapshot is applied,
// makes every older write stale then.

/** One row of the snapshot (or one live row absent from it), what it needs, and how the report counts it. */
export interface PlannedItem {
  entity: ReportEntity
  id: string
  kind: ChangeKind
  changes: Change[]
}

/** JSON text with sorted keys: equal values give equal text whatever their key order. */
export function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b)
const maxVersion = (...versions: string[]): string => versions.reduce((a, b) => (a > b ? a : b), '')

/**
 * Keys to write so that the visible attribute object becomes `desired`: changed or new ones (a null value is a
 * value), and REMOVED for the ones `desired` does not have.
 */
function attributeEdits (desired: Record<string, unknown>, visible: Record<string, unknown>): Record<string, unknown> {
  const edits: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(desired)) if (!Object.hasOwn(visible, key) || !same(value, visible[key])) edits[key] = value
  for (const key of Object.keys(visible)) if (!Object.hasOwn(desired, key)) edits[key] = REMOVED
  return edits
}

/** The fields of `desired` whose value differs from the row's. */
function fieldEdits (desired: Record<string, unknown>, current: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(desired).filter(([k, v]) => !same(v, current[k])))
}

const isEmpty = (o: object): boolean => Object.keys(o).length === 0

/** A plan reservation with nothing reserved is no reservation: SaaSus's tenant then carries none of its fields. */
function reservation (value: Record<string, unknown>): Record<string, unknown> | null {
  return Object.values(value).every(v => v === null) ? null : value
}

export function tenantFields (t: SaasusTenant): Record<string, unknown> {
  return {
    name: t.name,
    back_office_staff_email: t.back_office_staff_email,
    plan_id: t.plan_id ?? null,
    plan_histories: t.plan_histories,
    next_plan: reservation({
      next_plan_id: t.next_plan_id ?? null,
      using_next_plan_from: t.using_next_plan_from ?? null,
      next_plan_tax_rate_id: t.next_plan_tax_rate_id ?? null,
      proration_behavior: t.proration_behavior ?? null,
      delete_usage: t.delete_usage ?? null
    }),
    billing_info: t.billing_info ?? null
  }
}

const tenantRowFields = (t: Tenant): Record<string, unknown> => ({
  name: t.name,
  back_office_staff_email: t.backOfficeStaffEmail,
  billing_info: t.billingInfo
})

const planFields = (p: PlanState): Record<string, unknown> => ({ plan_id: p.plan_id, plan_histories: p.plan_histories, next_plan: p.next_plan })

/**
 * The plan registers to write for a tenant shown here: none when the snapshot's plan, carried to `nowMs`
 * (its reservation taken effect if its instant has passed since), is the plan shown now: a reservation
 * that fell due between the snapshot and now is the activator's, not drift. Else the snapshot's plan as it
 * was (the fold carries it on from there, and an event dated after the snapshot still applies on top).
 */
function planEdits (desired: Record<string, unknown>, row: Tenant, version: Version, nowMs: number): Record<string, unknown> {
  const base = { planId: desired.plan_id as string | null, planIdV: version, planHistories: desired.plan_histories, planHistoriesV: version, nextPlan: desired.next_plan, nextPlanV: version }
  return same(planFields(effectivePlan(base, [], nowMs)), planFields(tenantPlan(row, nowMs))) ? {} : planFields(effectivePlan(base, []))
}

/** A tenant or user: write every field when it is not visible, else only the differing fields and keys. */
function planOwner (
  entity: 'tenant' | 'user', id: string, version: Version, desired: Record<string, unknown>, desiredAttributes: Record<string, unknown>,
  row: { live: boolean, deletedV: string } | undefined, current: Record<string, unknown>, keys: AttributeValue[]
): Omit<PlannedItem, 'entity'> {
  const after = row?.deletedV ?? ''
  const attributeChanges = attributeEdits(desiredAttributes, attributeObject(keys.filter(a => a.v > after), after))
  const owner = entity === 'tenant' ? { tenantId: id } : { userId: id }
  const withAttributes = (changes: Change[]): Change[] =>
    isEmpty(attributeChanges) ? changes : [...changes, attributes(entity, owner, version, attributeChanges)]
  if (row?.live !== true) return { id, kind: 'created', changes: withAttributes([put(entity, { id }, version, desired)]) }
  const edits = fieldEdits(desired, current)
  if (isEmpty(edits) && isEmpty(attributeChanges)) return { id, kind: 'unchanged', changes: [] }
  return { id, kind: 'updated', changes: withAttributes(isEmpty(edits) ? [] : [put(entity, { id }, version, edits)]) }
}

export function planTenants (items: SaasusTenant[], rows: Tenant[], keys: AttributeValue[], version: Version, nowMs: number = Date.now()): PlannedItem[] {
  const byId = new Map(rows.map(r => [r.id, r]))
  return items.map(t => {
    const row = byId.get(t.id)
    const desired = tenantFields(t)
    const tenantKeys = keys.filter(k => k.tenantId === t.id)
    if (row?.live !== true) return { entity: 'tenants', ...planOwner('tenant', t.id, version, desired, t.attributes, row, {}, tenantKeys) }
    const { plan_id: _p, plan_histories: _h, next_plan: _n, ...rest } = desired
    const planned = planOwner('tenant', t.id, version, rest, t.attributes, row, tenantRowFields(row), tenantKeys)
    const plan = planEdits(desired, row, version, nowMs)
    if (isEmpty(plan)) return { entity: 'tenants', ...planned }
    const others = planned.changes.filter(c => c.kind !== 'register')
    const fields = { ...planned.changes.flatMap(c => c.kind === 'register' ? [c.fields] : [])[0], ...plan }
    return { entity: 'tenants', id: t.id, kind: 'updated', changes: [put('tenant', { id: t.id }, version, fields), ...others] }
  })
}

export function planUsers (items: SaasusSaasUser[], rows: User[], keys: AttributeValue[], version: Version): PlannedItem[] {
  const byId = new Map(rows.map(r => [r.id, r]))
  return items.map(u => {
    const row = byId.get(u.id)
    // SaaSus's definition requires sign_in_id on /users and /tenants/all/users since v1.12.8 (authapi.yml);
    // an answer without it (an older API) leaves it as the events set it.
    const desired = u.sign_in_id === undefined ? { email: u.email } : { email: u.email, sign_in_id: u.sign_in_id }
    return {
      entity: 'users',
      ...planOwner('user', u.id, version, desired, u.attributes, row, row === undefined ? {} : { email: row.email, sign_in_id: row.signInId }, keys.filter(k => k.userId === u.id))
    }
  })
}

export const membershipId = (tenantId: string, userId: string): string => `${tenantId}/${userId}`
export const roleAssignmentId = (tenantId: string, userId: string, envId: number | bigint, roleName: string): string => `${tenantId}/${userId}/${envId}/${roleName}`
export const listingId = (tenantId: string, userId: string, envId: number | bigint): string => `${tenantId}/${userId}/${envId}`

/**
 * Memberships, their role assignments, and the envs they list with no role (`roles: []`: a listing, as a role
 * cannot hold it). Roles assigned and listings here but absent from the snapshot (a listed env that has roles
 * now included) are deletions (planDeletions).
 */
export function planMemberships (
  items: SaasusTenantUser[],
  local: { tenants: Tenant[], users: User[], memberships: TenantUser[], roles: TenantUserRole[], listings: TenantUserEnv[], attributes: AttributeValue[] },
  version: Version
): PlannedItem[] {
  const tenants = new Map(local.tenants.map(t => [t.id, t]))
  const users = new Map(local.users.map(u => [u.id, u]))
  const memberships = new Map(local.memberships.map(m => [membershipId(m.tenantId, m.userId), m]))
  const roles = new Map(local.roles.map(r => [roleAssignmentId(r.tenantId, r.userId, r.envId, r.roleName), r]))
  const listings = new Map(local.listings.map(l => [listingId(l.tenantId, l.userId, l.envId), l]))
  /** Whether a row below the membership shows: live, and written after every delete above it. */
  const shows = (visible: boolean, row: { live: boolean, liveV: string } | undefined, after: string): boolean =>
    visible && row !== undefined && row.live && row.liveV > after
  const planned: PlannedItem[] = []
  for (const item of items) {
    const key = { tenant_id: item.tenant_id, user_id: item.id }
    const id = membershipId(item.tenant_id, item.id)
    const tenant = tenants.get(item.tenant_id)
    const user = users.get(item.id)
    const m = memberships.get(id)
    const visible = m !== undefined && membershipVisible(m, tenant, user)
    // What shows below the membership once it shows: keys and roles written after every delete above them.
    const after = maxVersion(tenant?.deletedV ?? '', user?.deletedV ?? '', m?.deletedV ?? '')
    const keys = local.attributes.filter(a => a.tenantId === item.tenant_id && a.userId === item.id)
    const edits = attributeEdits(item.attributes, attributeObject(keys, after))
    const changes: Change[] = visible ? [] : [put('tenant_user', key, version)]
    if (!isEmpty(edits)) changes.push(attributes('tenant_user', { tenantId: item.tenant_id, userId: item.id }, version, edits))
    planned.push({ entity: 'memberships', id, kind: !visible ? 'created' : changes.length > 0 ? 'updated' : 'unchanged', changes })
    for (const env of item.envs) {
      if (env.roles.length === 0) {
        const id = listingId(item.tenant_id, item.id, env.id)
        const unchanged = shows(visible, listings.get(id), after)
        planned.push({
          entity: 'membership_envs',
          id,
          kind: unchanged ? 'unchanged' : 'created',
          changes: unchanged ? [] : [put('tenant_user_env', { ...key, env_id: env.id }, version)]
        })
      }
      for (const { role_name } of env.roles) {
        const roleId = roleAssignmentId(item.tenant_id, item.id, env.id, role_name)
        const unchanged = shows(visible, roles.get(roleId), after)
        planned.push({
          entity: 'role_assignments',
          id: roleId,
          kind: unchanged ? 'unchanged' : 'created',
          changes: unchanged ? [] : [put('tenant_user_role', { ...key, env_id: env.id, role_name }, version)]
        })
      }
    }
  }
  return planned
}

export function planRoles (items: SaasusRole[], rows: Role[], version: Version): PlannedItem[] {
  const byName = new Map(rows.map(r => [r.roleName, r]))
  return items.map(role => {
    const row = byName.get(role.role_name)
    const key = { role_name: role.role_name }
    if (row?.live !== true) return { entity: 'roles', id: role.role_name, kind: 'created', changes: [put('role', key, version, { display_name: role.display_name })] }
    const same = row.displayName === role.display_name
    return { entity: 'roles', id: role.role_name, kind: same ? 'unchanged' : 'updated', changes: same ? [] : [put('role', key, version, { display_name: role.display_name })] }
  })
}

export function planEnvs (items: SaasusEnv[], rows: Env[], version: Version): PlannedItem[] {
  const byId = new Map(rows.map(r => [Number(r.id), r]))
  return items.map(env => {
    const row = byId.get(env.id)
    const desired = { name: env.name, display_name: env.display_name ?? null }
    if (row?.live !== true) return { entity: 'envs', id: String(env.id), kind: 'created', changes: [put('env', { id: env.id }, version, desired)] }
    const edits = fieldEdits(desired, { name: row.name, display_name: row.displayName })
    return { entity: 'envs', id: String(env.id), kind: isEmpty(edits) ? 'unchanged' : 'updated', changes: isEmpty(edits) ? [] : [put('env', { id: env.id }, version, edits)] }
  })
}

const REPORTED_AS: Record<Entity, ReportEntity> = {
  tenant: 'tenants', user: 'users', tenant_user: 'memberships', tenant_user_role: 'role_assignments', tenant_user_env: 'membership_envs', role: 'roles', env: 'envs'
}

/** The report id of a row of `entity`, from its key. */
export function reportId (entity: Entity, key: Record<string, string | number>): string {
  return ENTITIES[entity].keys.map(k => String(key[k])).join('/')
}

/** A row's identity for set membership (no separator can make two keys collide). */
export function rowKey (entity: Entity, key: Record<string, string | number>): string {
  return JSON.stringify(ENTITIES[entity].keys.map(k => String(key[k])))
}

/** Tombstones at the snapshot's version for live rows absent from the snapshot; cascades hide what hangs below them. */
export function planDeletions (entity: Entity, liveKeys: Array<Record<string, string | number>>, inSnapshot: Set<string>, version: Version): PlannedItem[] {
  return liveKeys
    .filter(key => !inSnapshot.has(rowKey(entity, key)))
    .map(key => ({ entity: REPORTED_AS[entity], id: reportId(entity, key), kind: 'deleted' as const, changes: [remove(entity, key, version)] }))
}
