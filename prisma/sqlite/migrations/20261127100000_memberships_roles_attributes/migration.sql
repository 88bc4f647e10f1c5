-- Attributes move to attribute_values (merged per key); tenants and users get deleted_v for cascades;
-- tenant plan and billing registers; memberships, role assignments, role and env definitions; quarantine.

-- DropIndex
DROP INDEX "events_log_id_idx";

-- AlterTable
ALTER TABLE "tenants" DROP COLUMN "attributes";
ALTER TABLE "tenants" DROP COLUMN "attributes_v";
ALTER TABLE "tenants" ADD COLUMN "deleted_v" TEXT NOT NULL DEFAULT '';
ALTER TABLE "tenants" ADD COLUMN "plan_id" TEXT;
ALTER TABLE "tenants" ADD COLUMN "plan_id_v" TEXT NOT NULL DEFAULT '';
ALTER TABLE "tenants" ADD COLUMN "plan_histories" JSONB;
ALTER TABLE "tenants" ADD COLUMN "plan_histories_v" TEXT NOT NULL DEFAULT '';
ALTER TABLE "tenants" ADD COLUMN "next_plan" JSONB;
ALTER TABLE "tenants" ADD COLUMN "next_plan_v" TEXT NOT NULL DEFAULT '';
ALTER TABLE "tenants" ADD COLUMN "billing_info" JSONB;
ALTER TABLE "tenants" ADD COLUMN "billing_info_v" TEXT NOT NULL DEFAULT '';

-- AlterTable
ALTER TABLE "users" DROP COLUMN "attributes";
ALTER TABLE "users" DROP COLUMN "attributes_v";
ALTER TABLE "users" ADD COLUMN "deleted_v" TEXT NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "quarantine" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "envelope_id" TEXT,
    "received_at" DATETIME NOT NULL,
    "field" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "raw" JSONB NOT NULL
);

-- CreateTable
CREATE TABLE "tenant_users" (
    "tenant_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "deleted_v" TEXT NOT NULL DEFAULT '',

    PRIMARY KEY ("tenant_id", "user_id")
);

-- CreateTable
CREATE TABLE "tenant_user_roles" (
    "tenant_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "env_id" INTEGER NOT NULL,
    "role_name" TEXT NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,

    PRIMARY KEY ("tenant_id", "user_id", "env_id", "role_name")
);

-- CreateTable
CREATE TABLE "roles" (
    "role_name" TEXT NOT NULL PRIMARY KEY,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "display_name" TEXT,
    "display_name_v" TEXT NOT NULL DEFAULT ''
);

-- CreateTable
CREATE TABLE "envs" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "name" TEXT,
    "name_v" TEXT NOT NULL DEFAULT '',
    "display_name" TEXT,
    "display_name_v" TEXT NOT NULL DEFAULT ''
);

-- CreateTable
CREATE TABLE "attribute_values" (
    "scope" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL DEFAULT '',
    "user_id" TEXT NOT NULL DEFAULT '',
    "key" TEXT NOT NULL,
    "value" JSONB,
    "v" TEXT NOT NULL,

    PRIMARY KEY ("scope", "tenant_id", "user_id", "key")
);

-- CreateIndex
CREATE UNIQUE INDEX "events_log_id_key" ON "events"("log_id");

-- CreateIndex
CREATE INDEX "events_received_at_idx" ON "events"("received_at");

-- CreateIndex
CREATE INDEX "tenant_users_user_id_idx" ON "tenant_users"("user_id");

-- CreateIndex
CREATE INDEX "tenant_user_roles_user_id_idx" ON "tenant_user_roles"("user_id");

-- CreateIndex
CREATE INDEX "attribute_values_user_id_idx" ON "attribute_values"("user_id");
