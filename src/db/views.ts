import type { AttributeValue, Tenant, TenantUser, TenantUserEnv, TenantUserRole, User } from '../generated/sqlite/client.js'
import { versionTime, type Version } from '../events/version.js'
import { effectivePlan, planAsOf, type PlanState } from '../events/plan-state.js'

// How stored registers become what the read API shows. Pure functions over rows: the repository loads
// them, these decide what is visible. A row below a deleted parent is visible only if it was written after
// the newest delete of every parent (`deleted_v`), whatever order the events arrived in.

export interface TenantView {
  id: string
  name: string | null
  attributes: Record<string, unknown>
  back_office_staff_email: string | null
  plan_id: string | null
  plan_histories: unknown
  next_plan: unknown
  billing_info: unknown
  users: string[]
  updated_at: string
}

export interface MembershipView {
  tenant_id: string
  attributes: Record<string, unknown>
  envs: Array<{ env_id: number, roles: string[] }>
}

export interface UserView {
  id: string
  email: string | null
  sign_in_id: string | null
  attributes: Record<string, unknown>
  tenants: MembershipView[]
  updated_at: string
}

const maxVersion = (versions: string[]): string => versions.reduce((a, b) => (a > b ? a : b), '')
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The attribute object: keys written after `after` and not removed (a null value stays), sorted by key. */
export function attributeObject (rows: AttributeValue[], after: string): Record<string, unknown> {
  const visible = rows.filter(r => r.v > after && !r.removed).sort((a, b) => byText(a.key, b.key))
  return Object.fromEntries(visible.map(r => [r.key, r.value]))
}

/** Whether a membership shows: it exists, and was written after its tenant's and user's newest delete. */
export function membershipVisible (m: TenantUser, tenant: Tenant | undefined, user: User | undefined): boolean {
  return m.live && tenant !== undefined && tenant.live && user !== undefined && user.live &&
    m.liveV > tenant.deletedV && m.liveV > user.deletedV
}

/**
 * A membership's envs, by id, each with its role names sorted: an env shows when it has a live role or a live
 * listing without role (SaaSus's `roles: []`), each written after `after` (the newest delete above the
 * membership). `roles` and `listings` may hold rows of other memberships: only this one's count.
 */
export function membershipEnvs (
  tenantId: string, userId: string, after: string, roles: TenantUserRole[], listings: TenantUserEnv[]
): Array<{ env_id: number, roles: string[] }> {
  const envs = new Map<number, string[]>()
  const shows = (r: TenantUserRole | TenantUserEnv): boolean => r.tenantId === tenantId && r.userId === userId && r.live && r.liveV > after
  for (const l of listings) if (shows(l)) envs.set(Number(l.envId), envs.get(Number(l.envId)) ?? [])
  for (const r of roles) if (shows(r)) envs.set(Number(r.envId), [...(envs.get(Number(r.envId)) ?? []), r.roleName])
  return [...envs.entries()].sort(([a], [b]) => a - b).map(([env_id, names]) => ({ env_id, roles: names.sort(byText) }))
}

/**
 * A tenant's plan (events/plan-state.ts): as last folded into the row; with `nowMs`, as of that instant too
 * (a reservation whose instant has passed shows as taken effect before the activator records it). A row
 * never folded shows its registers.
 */
export function tenantPlan (tenant: Tenant, nowMs?: number): PlanState {
  if (tenant.planState !== null) return planAsOf(tenant.planState as unknown as PlanState, nowMs)
  return effectivePlan(tenant, [], nowMs)
}

const updatedAt = (versions: string[]): string => versionTime(maxVersion(versions) as Version).toISOString()

export function tenantView (
  tenant: Tenant, attributes: AttributeValue[], memberships: TenantUser[], users: Map<string, User>, nowMs: number
): TenantView {
  // Keys written since the last delete, removals included: each is a change to the tenant.
  const written = attributes.filter(a => a.v > tenant.deletedV)
  const plan = tenantPlan(tenant, nowMs)
  return {
    id: tenant.id,
    name: tenant.name,
    attributes: attributeObject(written, tenant.deletedV),
    back_office_staff_email: tenant.backOfficeStaffEmail,
    plan_id: plan.plan_id,
    plan_histories: plan.plan_histories,
    next_plan: plan.next_plan,
    billing_info: tenant.billingInfo,
    users: memberships.filter(m => membershipVisible(m, tenant, users.get(m.userId))).map(m => m.userId).sort(byText),
    updated_at: updatedAt([
      tenant.liveV, tenant.nameV, tenant.backOfficeStaffEmailV, tenant.planIdV, tenant.planHistoriesV,
      tenant.nextPlanV, tenant.billingInfoV, plan.changed_v, ...written.map(a => a.v)
    ])
  }
}

export function userView (
  user: User,
  attributes: AttributeValue[],
  memberships: TenantUser[],
  tenants: Map<string, Tenant>,
  roles: TenantUserRole[],
  listings: TenantUserEnv[]
): UserView {
  const own = attributes.filter(a => a.scope === 'user' && a.v > user.deletedV)
  const views: MembershipView[] = []
  for (const m of memberships) {
    const tenant = tenants.get(m.tenantId)
    if (!membershipVisible(m, tenant, user)) continue
    // Attributes and roles below a membership also fall with a delete of the membership itself.
    const after = maxVersion([tenant!.deletedV, user.deletedV, m.deletedV])
    views.push({
      tenant_id: m.tenantId,
      attributes: attributeObject(attributes.filter(a => a.scope === 'tenant_user' && a.tenantId === m.tenantId), after),
      envs: membershipEnvs(m.tenantId, user.id, after, roles, listings)
    })
  }
  return {
    id: user.id,
    email: user.email,
    sign_in_id: user.signInId,
    attributes: attributeObject(own, user.deletedV),
    tenants: views.sort((a, b) => byText(a.tenant_id, b.tenant_id)),
    updated_at: updatedAt([user.liveV, user.emailV, user.signInIdV, ...own.map(a => a.v)])
  }
}
