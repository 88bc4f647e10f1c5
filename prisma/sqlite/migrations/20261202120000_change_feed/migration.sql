-- The change feed (issue 16): one row per entity whose visible state a transaction changed, in commit
-- order, and one row holding the newest cursor given out (locked by each writing transaction until it
-- commits, which makes cursor order the commit order) and the newest cursor pruned.

-- CreateTable
CREATE TABLE "feed_entries" (
    "cursor" BIGINT NOT NULL PRIMARY KEY,
    "entity" TEXT NOT NULL,
    "key" JSONB NOT NULL,
    "op" TEXT NOT NULL,
    "fields" JSONB,
    "cause" TEXT NOT NULL,
    "event_id" TEXT,
    "event_type" TEXT,
    "event_time" DATETIME,
    "run_id" TEXT,
    "recorded_at" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "feed_entries_recorded_at_idx" ON "feed_entries"("recorded_at");

-- CreateTable
CREATE TABLE "feed_head" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "cursor" BIGINT NOT NULL,
    "pruned_through" BIGINT NOT NULL
);

INSERT INTO "feed_head" ("id", "cursor", "pruned_through") VALUES (1, 0, 0);
