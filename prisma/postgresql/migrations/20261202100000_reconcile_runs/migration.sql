-- Reconciliation with SaaSus's Auth API: one row per run, a lease so that one run at a time writes, and the
-- version floor (the newest applied snapshot's version: every older write is stale).
-- Versions are compared as text: COLLATE "C" (byte order), whatever the server's default.

-- CreateTable
CREATE TABLE "reconcile_runs" (
    "id" TEXT COLLATE "C" NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3),
    "snapshot_version" TEXT COLLATE "C",
    "dry_run" BOOLEAN NOT NULL,
    "trigger" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "counts" JSONB,
    "error" TEXT,

    CONSTRAINT "reconcile_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "reconcile_runs_started_at_idx" ON "reconcile_runs"("started_at");

-- CreateTable
CREATE TABLE "reconcile_lease" (
    "id" INTEGER NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reconcile_lease_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "version_floor" (
    "id" INTEGER NOT NULL,
    "version" TEXT COLLATE "C" NOT NULL,

    CONSTRAINT "version_floor_pkey" PRIMARY KEY ("id")
);

INSERT INTO "reconcile_lease" ("id", "holder", "expires_at") VALUES (1, '', '1970-01-01T00:00:00.000Z');
INSERT INTO "version_floor" ("id", "version") VALUES (1, '');
