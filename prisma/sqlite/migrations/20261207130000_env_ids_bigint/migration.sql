-- Env ids are SaaSus uint64s (its definition's `Id`): declared BIGINT, as Prisma declares a BigInt field.
-- SQLite's INTEGER holds 64-bit values already; the two tables are rebuilt only for the declared type, every
-- row kept as it is (docs/ordering.md, "Env ids").

-- RedefineTables
CREATE TABLE "new_envs" (
    "id" BIGINT NOT NULL PRIMARY KEY,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "name" TEXT,
    "name_v" TEXT NOT NULL DEFAULT '',
    "display_name" TEXT,
    "display_name_v" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "new_envs" ("id", "live", "live_v", "name", "name_v", "display_name", "display_name_v")
    SELECT "id", "live", "live_v", "name", "name_v", "display_name", "display_name_v" FROM "envs";
DROP TABLE "envs";
ALTER TABLE "new_envs" RENAME TO "envs";

CREATE TABLE "new_tenant_user_roles" (
    "tenant_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "env_id" BIGINT NOT NULL,
    "role_name" TEXT NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,

    PRIMARY KEY ("tenant_id", "user_id", "env_id", "role_name")
);
INSERT INTO "new_tenant_user_roles" ("tenant_id", "user_id", "env_id", "role_name", "live", "live_v")
    SELECT "tenant_id", "user_id", "env_id", "role_name", "live", "live_v" FROM "tenant_user_roles";
DROP TABLE "tenant_user_roles";
ALTER TABLE "new_tenant_user_roles" RENAME TO "tenant_user_roles";
CREATE INDEX "tenant_user_roles_user_id_idx" ON "tenant_user_roles"("user_id");
