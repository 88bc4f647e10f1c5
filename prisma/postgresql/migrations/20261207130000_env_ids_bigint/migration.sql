-- Env ids are SaaSus uint64s (its definition's `Id`): INTEGER (32-bit) refused every env id from 2^31 on,
-- failing events and reconciliations alike. BIGINT keeps every existing row (docs/ordering.md, "Env ids").

-- AlterTable
ALTER TABLE "envs" ALTER COLUMN "id" SET DATA TYPE BIGINT;

-- AlterTable
ALTER TABLE "tenant_user_roles" ALTER COLUMN "env_id" SET DATA TYPE BIGINT;
