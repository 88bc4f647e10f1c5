-- An env SaaSus lists for a tenant user with no role (`roles: []`, allowed by its definition) is kept as its
-- own existence register: role assignments cannot hold it (docs/ordering.md, "Envs without a role").
-- Rows come from reconciliation and from create_tenant_user answers (`npm run rebuild` replays older ones).

-- CreateTable
CREATE TABLE "tenant_user_envs" (
    "tenant_id" TEXT COLLATE "C" NOT NULL,
    "user_id" TEXT COLLATE "C" NOT NULL,
    "env_id" BIGINT NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,

    CONSTRAINT "tenant_user_envs_pkey" PRIMARY KEY ("tenant_id","user_id","env_id")
);

-- CreateIndex
CREATE INDEX "tenant_user_envs_user_id_idx" ON "tenant_user_envs"("user_id");
