-- A reconciliation raises the version floor only once its whole snapshot is applied (docs/reconciliation.md):
-- `pending_version` is the version of the snapshot being applied; writes older than it that land meanwhile are
-- journaled, and compared with the snapshot again before the floor is raised.

-- AlterTable
ALTER TABLE "version_floor" ADD COLUMN "pending_version" TEXT COLLATE "C" NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "reconcile_journal" (
    "entity" TEXT COLLATE "C" NOT NULL,
    "key" TEXT COLLATE "C" NOT NULL,

    CONSTRAINT "reconcile_journal_pkey" PRIMARY KEY ("entity", "key")
);
