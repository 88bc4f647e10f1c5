-- Plans as SaaSus reports them (src/events/plan-state.ts): every plan change kept as a row of its own, the
-- fold of them in the tenant row (plan_state), and when its pending reservation takes effect (plan_due_at,
-- the plan activator's work list). Reservations stored before this migration are in next_plan: each one
-- with an instant is due at it.

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN "plan_state" JSONB;
ALTER TABLE "tenants" ADD COLUMN "plan_due_at" BIGINT;

-- CreateTable
CREATE TABLE "tenant_plan_changes" (
    "tenant_id" TEXT NOT NULL,
    "v" TEXT NOT NULL,
    "change" JSONB NOT NULL,

    PRIMARY KEY ("tenant_id", "v")
);

-- CreateIndex
CREATE INDEX "tenants_plan_due_at_idx" ON "tenants"("plan_due_at");

-- Back-fill
UPDATE "tenants" SET "plan_due_at" = json_extract("next_plan", '$.using_next_plan_from') * 1000
WHERE json_type("next_plan", '$.using_next_plan_from') = 'integer' AND json_type("next_plan", '$.next_plan_id') = 'text';
