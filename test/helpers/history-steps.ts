import fc from 'fast-check'
import { events } from './events.js'

/** One event of a generated history: given a namespace for ids and the event's time and envelope id. */
export type Step = (ns: string, o: { time: string, id: string }) => Record<string, any>

export interface StepDomains {
  tenant: fc.Arbitrary<string>
  user: fc.Arbitrary<string>
  env: fc.Arbitrary<number>
  role: fc.Arbitrary<string>
  roles: string[]
  attributes: fc.Arbitrary<Record<string, unknown>>
  name: fc.Arbitrary<string>
}

/**
 * The steps every generated history draws from: tenants (with plan and billing changes), users, memberships
 * and role assignments, created, updated and deleted. Property tests add steps of their own to these.
 */
export function entitySteps ({ tenant, user, env, role, roles, attributes, name }: StepDomains): Array<fc.Arbitrary<Step>> {
  return [
    fc.tuple(tenant, name, attributes).map(([t, n, a]): Step => (ns, o) => events.createTenant(`${ns}${t}`, { name: n, attributes: a }, o)),
    fc.tuple(tenant, name, attributes).map(([t, n, a]): Step => (ns, o) => events.updateTenant(`${ns}${t}`, { name: n, attributes: a }, o)),
    tenant.map((t): Step => (ns, o) => events.deleteTenant(`${ns}${t}`, o)),
    // A plan applied at once, cancelled, or reserved for an instant within the history (taken effect by the
    // time it is read: the history is in the past) or far beyond it (still pending).
    fc.tuple(tenant, fc.option(fc.constantFrom('plan-a', 'plan-b')), fc.option(fc.constantFrom(1, 2, 'later'))).map(([t, p, from]): Step => (ns, o) =>
      events.updateTenantPlan(`${ns}${t}`, p === null ? {} : from === null ? { next_plan_id: p } : {
        next_plan_id: p, using_next_plan_from: from === 'later' ? 2000000000 : Math.floor(Date.parse(o.time) / 1000) + (from as number)
      }, o)),
    fc.tuple(tenant, name).map(([t, n]): Step => (ns, o) => events.updateTenantBillingInfo(`${ns}${t}`, n, o)),
    fc.tuple(user, name, attributes).map(([u, n, a]): Step => (ns, o) => events.createUser(`${ns}${u}`, { email: `${n}@x`, attributes: a }, o)),
    fc.tuple(user, name).map(([u, n]): Step => (ns, o) => events.updateUserEmail(`${ns}${u}`, `${n}@y`, o)),
    fc.tuple(user, attributes).map(([u, a]): Step => (ns, o) => events.updateUserAttributes(`${ns}${u}`, a, o)),
    user.map((u): Step => (ns, o) => events.deleteUser(`${ns}${u}`, o)),
    fc.tuple(tenant, user, attributes, env, fc.subarray(roles)).map(([t, u, a, e, r]): Step =>
      (ns, o) => events.createTenantUser(`${ns}${t}`, `${ns}${u}`, a, [{ id: e, roles: r }], o)),
    fc.tuple(tenant, user, attributes).map(([t, u, a]): Step => (ns, o) => events.updateTenantUser(`${ns}${t}`, `${ns}${u}`, a, o)),
    fc.tuple(tenant, user).map(([t, u]): Step => (ns, o) => events.deleteTenantUser(`${ns}${t}`, `${ns}${u}`, o)),
    fc.tuple(tenant, user, env, fc.subarray(roles, { minLength: 1 })).map(([t, u, e, r]): Step =>
      (ns, o) => events.createTenantUserRoles(`${ns}${t}`, `${ns}${u}`, e, r, o)),
    fc.tuple(tenant, user, env, role).map(([t, u, e, r]): Step => (ns, o) => events.deleteTenantUserRole(`${ns}${t}`, `${ns}${u}`, e, r, o))
  ]
}
