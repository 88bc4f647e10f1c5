import { sqltag as sql } from '@prisma/client/runtime/client'
import type { Tenant } from '../generated/sqlite/client.js'
import { planChange } from '../events/changes.js'
import { activationOf } from '../events/plan-state.js'
import { applyChanges, FeedWrite } from './writing/batch-write.js'
import { duePlans, nextDue, refoldPlans } from './writing/plan-write.js'
import { tenantPlan } from './views.js'
import type { Repository } from './repository.js'

// What the plan activator (src/plans/activator.ts) needs from the database: the tenants whose reserved plan
// is due, and the write that records one taking effect, through the guarded write path with the change feed.

/** What became of a due tenant: its reservation took effect now, had already (another replica), or is not due. */
export type Activation = 'activated' | 'already' | 'not_due'

export class PlanActivations {
  constructor (readonly repository: Repository) {}

  /** Tenants whose reservation is due at `nowMs`, soonest first, at most `limit`. */
  async due (nowMs: number, limit: number): Promise<string[]> {
    return await duePlans(this.repository.prisma, nowMs, limit)
  }

  /** The soonest instant a pending reservation takes effect (Unix ms), if any. */
  async nextDue (): Promise<number | undefined> {
    return await nextDue(this.repository.prisma)
  }

  /**
   * Records that the tenant's pending reservation took effect, if it is due at `nowMs`: the activation is a
   * plan change whose version is the instant's (plan-state.ts), so it is written once whoever writes it
   * (another replica, a retry): the second finds it kept and records nothing. The change feed gets the
   * entry, cause `scheduled`. A tenant not due (any more) has its plan folded again, which clears its due
   * time. One transaction, retried like an event batch.
   */
  async activate (tenantId: string, nowMs: number): Promise<Activation> {
    const { dialect } = this.repository
    const feed = new FeedWrite()
    const result = await this.repository.transaction(async tx => {
      feed.restart() // a retried transaction records afresh
      const [row] = await tx.$queryRaw<Tenant[]>(sql`SELECT "plan_id" AS "planId", "plan_id_v" AS "planIdV", CAST("plan_histories" AS TEXT) AS "planHistories",
        "plan_histories_v" AS "planHistoriesV", CAST("next_plan" AS TEXT) AS "nextPlan", "next_plan_v" AS "nextPlanV", CAST("plan_state" AS TEXT) AS "planState"
        FROM "tenants" WHERE "id" = ${tenantId}`)
      const state = row === undefined ? undefined : tenantPlan(parsed(row))
      const reservation = state?.next_plan ?? null
      if (reservation === null || reservation.using_next_plan_from * 1000 > nowMs) {
        await refoldPlans(tx, dialect, [tenantId])
        return 'not_due'
      }
      const { v, op } = activationOf(state!)!
      const at = new Date(reservation.using_next_plan_from * 1000)
      const applied = await applyChanges(tx, dialect, [[planChange(tenantId, v, op)]], { kind: 'scheduled', at }, feed)
      return applied.size > 0 ? 'activated' : 'already'
    })
    this.repository.feedCommitted(feed)
    return result
  }
}

const json = (v: unknown): any => v === null ? null : JSON.parse(String(v))

/** The row's JSON columns, read as text (SQLite's JSONB columns have numeric affinity), parsed. */
function parsed (row: Tenant): Tenant {
  return { ...row, planHistories: json(row.planHistories), nextPlan: json(row.nextPlan), planState: json(row.planState) }
}
