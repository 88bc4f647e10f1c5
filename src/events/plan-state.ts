import { versionTime, type Version } from './version.js'

// A tenant's plan as SaaSus reports it (plan_id, plan_histories, the reservation), from what the copy holds:
// the base written whole by create_tenant, reconciliation and deletes (the plan_id, plan_histories and
// next_plan registers), and every plan change since, kept one row per event (tenant_plan_changes). Pure.
//
// The state is a fold of the changes in version order over the base, so it is the same whatever order the
// changes arrived in and however often: a change is a row keyed by its version (a repeat adds nothing), and
// the fold sorts. A reservation takes effect at its instant, which has a version of its own
// (activationVersion): a change dated before the instant replaces the reservation first, one dated after it
// finds the plan already switched. `activate` rows are the activator's record that an instant has passed
// (src/plans/activator.ts); without one the last reservation stays pending until it is read at a later
// instant (effectivePlan with `nowMs`).

/** PlanHistory of SaaSus's definition: `plan_applied_at` in Unix seconds; the optional fields only when set. */
export interface PlanHistoryEntry {
  plan_id: string
  plan_applied_at: number
  tax_rate_id?: string
  proration_behavior?: string
  delete_usage?: boolean
}

/** A pending reservation (PlanReservation), as the read API shows it in `next_plan`. */
export interface Reservation {
  next_plan_id: string
  /** Unix seconds. */
  using_next_plan_from: number
  next_plan_tax_rate_id: string | null
  proration_behavior: string | null
  delete_usage: boolean | null
}

/** What one PUT /tenants/{id}/plans (or the activator) did, as kept in tenant_plan_changes.change. */
export type PlanOp =
  /** No using_next_plan_from: the plan applies at once (and the PUT leaves no reservation). */
  | { kind: 'apply', plan_id: string, tax_rate_id: string | null, proration_behavior: string | null, delete_usage: boolean | null }
  /** A reservation for a later instant, replacing any other. */
  | { kind: 'reserve', reservation: Reservation }
  /** No next_plan_id: the reservation is cancelled; the plan stays. */
  | { kind: 'cancel' }
  /** The activator saw the instant of the reservation written at version `reservation_v` pass. */
  | { kind: 'activate', reservation_v: string }

export interface StoredPlanOp { v: string, op: PlanOp }

/** The base registers of a tenant row. */
export interface PlanBase {
  planId: string | null
  planIdV: string
  planHistories: unknown
  planHistoriesV: string
  nextPlan: unknown
  nextPlanV: string
}

/** The fold's result: what the read API shows, and what it needs to go on from there. */
export interface PlanState {
  plan_id: string | null
  plan_histories: unknown
  next_plan: Reservation | null
  /** The version the pending reservation was written at ('' when none). */
  next_plan_v: string
  /** The newest version that changed any of the three ('' when none did). */
  changed_v: string
}

/** Seconds, for PlanHistory and PlanReservation. */
const seconds = (ms: number): number => Math.floor(ms / 1000)

/** The pending reservation a stored next_plan register holds, if it holds one (a next plan and its instant). */
export function asReservation (value: unknown): Reservation | null {
  if (value === null || typeof value !== 'object') return null
  const r = value as Record<string, unknown>
  if (typeof r.next_plan_id !== 'string' || typeof r.using_next_plan_from !== 'number') return null
  return {
    next_plan_id: r.next_plan_id,
    using_next_plan_from: r.using_next_plan_from,
    next_plan_tax_rate_id: typeof r.next_plan_tax_rate_id === 'string' ? r.next_plan_tax_rate_id : null,
    proration_behavior: typeof r.proration_behavior === 'string' ? r.proration_behavior : null,
    delete_usage: typeof r.delete_usage === 'boolean' ? r.delete_usage : null
  }
}

const TIME_DIGITS = 15

/**
 * The version of the instant a reservation written at `reservationV` takes effect: the instant's
 * millisecond, ranked below every event of it (`-`, as a snapshot), named by the reservation. Always above
 * the reservation's own version (a reservation read from a snapshot taken after its instant takes effect
 * just after the snapshot).
 */
export function activationVersion (reservation: Reservation, reservationV: string): Version {
  const at = `${String(reservation.using_next_plan_from * 1000).padStart(TIME_DIGITS, '0')}:-:scheduled:${reservationV}`
  return (at > reservationV ? at : `${reservationV}:scheduled`) as Version
}

/** The history entry of a plan applied at `ms`, with the optional fields SaaSus keeps when they are set. */
function entry (planId: string, ms: number, tax: string | null, proration: string | null, deleteUsage: boolean | null): PlanHistoryEntry {
  return {
    plan_id: planId,
    plan_applied_at: seconds(ms),
    ...(tax === null ? {} : { tax_rate_id: tax }),
    ...(proration === null ? {} : { proration_behavior: proration }),
    ...(deleteUsage === null ? {} : { delete_usage: deleteUsage })
  }
}

class Fold {
  planId: string | null
  planIdV: string
  histories: unknown
  readonly historiesV: string
  next: Reservation | null
  nextV: string
  /** The version of the pending reservation's write. */
  reservationV: string
  changedV = ''

  constructor (base: PlanBase) {
    this.planId = base.planId
    this.planIdV = base.planIdV
    this.histories = base.planHistories
    this.historiesV = base.planHistoriesV
    this.next = asReservation(base.nextPlan)
    this.nextV = base.nextPlanV
    this.reservationV = this.next === null ? '' : base.nextPlanV
  }

  /** The version at which the pending reservation takes effect, if one is pending. */
  get due (): Version | undefined {
    return this.next === null ? undefined : activationVersion(this.next, this.reservationV)
  }

  /** Plan `planId` applied at version `v` (at `ms`): each register only where `v` is newer than its base. */
  #apply (v: string, history: PlanHistoryEntry): void {
    if (v > this.planIdV) { this.planId = history.plan_id; this.planIdV = v; this.changedV = v }
    // Appended entries do not raise the base's version: each entry stands on its own version.
    if (v > this.historiesV) {
      this.histories = [...(Array.isArray(this.histories) ? this.histories : []), history]
      this.changedV = v
    }
    this.#clearReservation(v)
  }

  #clearReservation (v: string): void {
    if (v <= this.nextV) return
    if (this.next !== null) this.changedV = v
    this.next = null
    this.nextV = v
    this.reservationV = ''
  }

  /** The pending reservation takes effect at its instant. */
  activate (): void {
    const r = this.next!
    this.#apply(this.due!, entry(r.next_plan_id, r.using_next_plan_from * 1000, r.next_plan_tax_rate_id, r.proration_behavior, r.delete_usage))
  }

  step ({ v, op }: StoredPlanOp): void {
    // An instant passed before this change: the reservation took effect first.
    const due = this.due
    if (due !== undefined && due < v) this.activate()
    switch (op.kind) {
      case 'apply':
        this.#apply(v, entry(op.plan_id, versionTime(v as Version).getTime(), op.tax_rate_id, op.proration_behavior, op.delete_usage))
        break
      case 'cancel':
        this.#clearReservation(v)
        break
      case 'reserve':
        if (v > this.nextV) {
          this.next = op.reservation
          this.nextV = v
          this.reservationV = v
          this.changedV = v
        }
        break
      case 'activate':
        // The instant of the reservation still pending (one replaced before its instant never takes effect).
        if (this.next !== null && this.reservationV === op.reservation_v && this.due === v) this.activate()
    }
  }

  get state (): PlanState {
    return { plan_id: this.planId, plan_histories: this.histories, next_plan: this.next, next_plan_v: this.reservationV, changed_v: this.changedV }
  }
}

const byVersion = (a: StoredPlanOp, b: StoredPlanOp): number => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0)

/**
 * The plan from the base and the changes (any order, each version once), as of the last activation the
 * activator recorded; with `nowMs`, as of that instant too: a reservation whose instant has passed shows as
 * taken effect, as SaaSus's GET /tenants/{id} shows it.
 */
export function effectivePlan (base: PlanBase, ops: StoredPlanOp[], nowMs?: number): PlanState {
  const fold = new Fold(base)
  for (const op of [...ops].sort(byVersion)) fold.step(op)
  if (nowMs !== undefined && fold.next !== null && fold.next.using_next_plan_from * 1000 <= nowMs) fold.activate()
  return fold.state
}

/** The plan as last folded (the tenant's plan_state column), as of `nowMs` when given. */
export function planAsOf (state: PlanState, nowMs?: number): PlanState {
  if (nowMs === undefined || state.next_plan === null || state.next_plan.using_next_plan_from * 1000 > nowMs) return state
  const fold = new Fold({ planId: state.plan_id, planIdV: '', planHistories: state.plan_histories, planHistoriesV: '', nextPlan: state.next_plan, nextPlanV: state.next_plan_v })
  fold.activate()
  return fold.state
}

/** When the pending reservation of a folded state takes effect (Unix ms), if one is pending. */
export const dueAt = (state: PlanState): number | null => state.next_plan === null ? null : state.next_plan.using_next_plan_from * 1000

/** The activator's change for a folded state whose reservation is due: its version and what it records. */
export function activationOf (state: PlanState): { v: Version, op: PlanOp } | undefined {
  if (state.next_plan === null) return undefined
  return { v: activationVersion(state.next_plan, state.next_plan_v), op: { kind: 'activate', reservation_v: state.next_plan_v } }
}

/** The plan of a PUT /tenants/{id}/plans request (UpdateTenantPlanParam). */
export function planOpOf (body: { next_plan_id?: string | null, using_next_plan_from?: number | null, next_plan_tax_rate_id?: string | null, proration_behavior?: string | null, delete_usage?: boolean | null }): PlanOp {
  const planId = body.next_plan_id ?? null
  if (planId === null) return { kind: 'cancel' }
  const tax = body.next_plan_tax_rate_id ?? null
  const proration = body.proration_behavior ?? null
  const deleteUsage = body.delete_usage ?? null
  const from = body.using_next_plan_from ?? null
  if (from === null) return { kind: 'apply', plan_id: planId, tax_rate_id: tax, proration_behavior: proration, delete_usage: deleteUsage }
  return { kind: 'reserve', reservation: { next_plan_id: planId, using_next_plan_from: from, next_plan_tax_rate_id: tax, proration_behavior: proration, delete_usage: deleteUsage } }
}
