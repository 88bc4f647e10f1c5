-- Attributes move to attribute_values (merged per key); tenants and users get deleted_v for cascades;
-- tenant plan and billing registers; memberships, role assignments, role and env definitions; quarantine.
-- Ids and versions are compared as text: COLLATE "C" (byte order), whatever the server's default.

-- DropIndex
DROP INDEX "events_log_id_idx";

-- AlterTable
ALTER TABLE "tenants" DROP COLUMN "attributes",
DROP COLUMN "attributes_v",
ADD COLUMN     "deleted_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
ADD COLUMN     "plan_id" TEXT,
ADD COLUMN     "plan_id_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
ADD COLUMN     "plan_histories" JSONB,
ADD COLUMN     "plan_histories_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
ADD COLUMN     "next_plan" JSONB,
ADD COLUMN     "next_plan_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
ADD COLUMN     "billing_info" JSONB,
ADD COLUMN     "billing_info_v" TEXT COLLATE "C" NOT NULL DEFAULT '';

-- AlterTable
ALTER TABLE "users" DROP COLUMN "attributes",
DROP COLUMN "attributes_v",
ADD COLUMN     "deleted_v" TEXT COLLATE "C" NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "quarantine" (
    "id" SERIAL NOT NULL,
    "envelope_id" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "field" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "raw" JSONB NOT NULL,

    CONSTRAINT "quarantine_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenant_users" (
    "tenant_id" TEXT COLLATE "C" NOT NULL,
    "user_id" TEXT COLLATE "C" NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,
    "deleted_v" TEXT COLLATE "C" NOT NULL DEFAULT '',

    CONSTRAINT "tenant_users_pkey" PRIMARY KEY ("tenant_id","user_id")
);

-- CreateTable
CREATE TABLE "tenant_user_roles" (
    "tenant_id" TEXT COLLATE "C" NOT NULL,
    "user_id" TEXT COLLATE "C" NOT NULL,
    "env_id" INTEGER NOT NULL,
    "role_name" TEXT COLLATE "C" NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,

    CONSTRAINT "tenant_user_roles_pkey" PRIMARY KEY ("tenant_id","user_id","env_id","role_name")
);

-- CreateTable
CREATE TABLE "roles" (
    "role_name" TEXT COLLATE "C" NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,
    "display_name" TEXT,
    "display_name_v" TEXT COLLATE "C" NOT NULL DEFAULT '',

    CONSTRAINT "roles_pkey" PRIMARY KEY ("role_name")
);

-- CreateTable
CREATE TABLE "envs" (
    "id" INTEGER NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,
    "name" TEXT,
    "name_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "display_name" TEXT,
    "display_name_v" TEXT COLLATE "C" NOT NULL DEFAULT '',

    CONSTRAINT "envs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attribute_values" (
    "scope" TEXT COLLATE "C" NOT NULL,
    "tenant_id" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "user_id" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "key" TEXT COLLATE "C" NOT NULL,
    "value" JSONB,
    "v" TEXT COLLATE "C" NOT NULL,

    CONSTRAINT "attribute_values_pkey" PRIMARY KEY ("scope","tenant_id","user_id","key")
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
