import { isDeepStrictEqual } from 'node:util'
import { sqltag as sql } from '@prisma/client/runtime/client'
import { dueAt, effectivePlan, type PlanOp, type StoredPlanOp } from '../../events/plan-state.js'
import type { CollapsedPlanChange } from './collapse.js'
import { identifier, type ColumnType, type Dialect } from '../engines/dialect.js'
import { rowJson, type Queryable, type StoredRow } from '../feed/feed-store.js'

// The plan's writes (events/plan-state.ts): each plan change a row of tenant_plan_changes, then the fold of
// the tenant's base registers and changes stored in the tenant row (plan_state, plan_due_at), in the
// write's own transaction and under its locks, so that every reader sees the fold of what is committed.

const CHANGE_TYPES: ColumnType[] = ['text', 'text', 'json']

/**
 * Inserts plan changes; a change already kept (the same tenant and version) is left as it is, as is one no
 * newer than every plan register of its tenant (a reconciliation or delete since holds what it would make).
 * Returns the tenant and version of each inserted.
 */
export async function insertPlanChanges (db: Queryable, dialect: Dialect, plans: CollapsedPlanChange[]): Promise<Array<{ tenant_id: string, v: string }>> {
  const rows = plans.map(p => [p.tenantId, p.version, p.op])
  return await db.$queryRaw(sql`WITH "p"("tenant_id", "v", "change") AS (${dialect.rows(CHANGE_TYPES, rows)})
    INSERT INTO "tenant_plan_changes" ("tenant_id", "v", "change")
    SELECT "p"."tenant_id", "p"."v", "p"."change" FROM "p" WHERE NOT EXISTS (SELECT 1 FROM "tenants" AS "t" WHERE "t"."id" = "p"."tenant_id"
      AND "p"."v" <= "t"."plan_id_v" AND "p"."v" <= "t"."plan_histories_v" AND "p"."v" <= "t"."next_plan_v")
    ON CONFLICT DO NOTHING RETURNING "tenant_id", "v"`)
}

type Raw = Record<string, unknown>
const json = (v: unknown): any => v === null ? null : JSON.parse(String(v))
const list = (dialect: Dialect, ids: string[]) => dialect.rows(['text'], ids.map(id => [id]))

/** Every kept plan change of these tenants, by tenant. */
export async function planChangesOf (db: Queryable, dialect: Dialect, tenantIds: string[]): Promise<Map<string, StoredPlanOp[]>> {
  const rows = await db.$queryRaw<Raw[]>(sql`SELECT "tenant_id", "v", CAST("change" AS TEXT) AS "change" FROM "tenant_plan_changes"
    WHERE "tenant_id" IN (${list(dialect, tenantIds)})`)
  const out = new Map<string, StoredPlanOp[]>()
  for (const r of rows) {
    const id = String(r.tenant_id)
    out.set(id, [...(out.get(id) ?? []), { v: String(r.v), op: json(r.change) as PlanOp }])
  }
  return out
}

const FOLD_TYPES: ColumnType[] = ['text', 'json_text', 'bigint']

/**
 * Folds the plan of these tenants again from their registers and changes (as now stored) and stores it
 * where it differs; returns the rows it changed as the change feed reads them, and the soonest instant a
 * reservation it stored takes effect.
 */
export async function refoldPlans (db: Queryable, dialect: Dialect, tenantIds: string[]): Promise<{ rows: StoredRow[], soonestDue?: number }> {
  if (tenantIds.length === 0) return { rows: [] }
  const tenants = await db.$queryRaw<Raw[]>(sql`SELECT "id", "plan_id", "plan_id_v", CAST("plan_histories" AS TEXT) AS "plan_histories",
    "plan_histories_v", CAST("next_plan" AS TEXT) AS "next_plan", "next_plan_v", CAST("plan_state" AS TEXT) AS "plan_state", "plan_due_at"
    FROM "tenants" WHERE "id" IN (${list(dialect, tenantIds)})`)
  const changes = await planChangesOf(db, dialect, tenantIds)
  const updates: unknown[][] = []
  let soonestDue: number | undefined
  for (const t of tenants) {
    const state = effectivePlan({
      planId: t.plan_id as string | null,
      planIdV: String(t.plan_id_v),
      planHistories: json(t.plan_histories),
      planHistoriesV: String(t.plan_histories_v),
      nextPlan: json(t.next_plan),
      nextPlanV: String(t.next_plan_v)
    }, changes.get(String(t.id)) ?? [])
    const due = dueAt(state)
    const storedDue = t.plan_due_at === null ? null : Number(t.plan_due_at)
    if (isDeepStrictEqual(json(t.plan_state), state) && storedDue === due) continue
    updates.push([t.id, JSON.stringify(state), due])
    if (due !== null) soonestDue = Math.min(due, soonestDue ?? due)
  }
  if (updates.length === 0) return { rows: [] }
  const rows = await db.$queryRaw<StoredRow[]>(sql`WITH "u"("id", "state", "due") AS (${dialect.rows(FOLD_TYPES, updates)})
    UPDATE "tenants" SET "plan_state" = (SELECT "state" FROM "u" WHERE "u"."id" = "tenants"."id"),
      "plan_due_at" = (SELECT "due" FROM "u" WHERE "u"."id" = "tenants"."id")
    WHERE "id" IN (SELECT "id" FROM "u")
    RETURNING 'tenant' AS "kind", ${rowJson('tenant', dialect)} AS "row"`)
  return { rows, soonestDue }
}

/** The tenants whose reservation is due at `nowMs`, soonest first. */
export async function duePlans (db: Queryable, nowMs: number, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ id: string }>>(sql`SELECT "id" FROM ${identifier('tenants')} WHERE "plan_due_at" <= ${BigInt(nowMs)}
    ORDER BY "plan_due_at", "id" LIMIT ${limit}`)
  return rows.map(r => r.id)
}

/** The soonest instant a reservation is due (Unix ms), if any is pending. */
export async function nextDue (db: Queryable): Promise<number | undefined> {
  const [row] = await db.$queryRaw<Array<{ due: unknown }>>(sql`SELECT MIN("plan_due_at") AS "due" FROM "tenants"`)
  return row.due === null ? undefined : Number(row.due)
}
