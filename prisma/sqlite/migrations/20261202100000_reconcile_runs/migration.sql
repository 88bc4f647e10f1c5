-- Reconciliation with SaaSus's Auth API: one row per run, a lease so that one run at a time writes, and the
-- version floor (the newest applied snapshot's version: every older write is stale).

-- CreateTable
CREATE TABLE "reconcile_runs" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "started_at" DATETIME NOT NULL,
    "ended_at" DATETIME,
    "snapshot_version" TEXT,
    "dry_run" BOOLEAN NOT NULL,
    "trigger" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "counts" JSONB,
    "error" TEXT
);

-- CreateIndex
CREATE INDEX "reconcile_runs_started_at_idx" ON "reconcile_runs"("started_at");

-- CreateTable
CREATE TABLE "reconcile_lease" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "holder" TEXT NOT NULL,
    "expires_at" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "version_floor" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "version" TEXT NOT NULL
);

INSERT INTO "reconcile_lease" ("id", "holder", "expires_at") VALUES (1, '', '1970-01-01T00:00:00.000+00:00');
INSERT INTO "version_floor" ("id", "version") VALUES (1, '');
