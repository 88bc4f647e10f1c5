-- Each change feed entry's size in bytes (its key and fields as JSON text), recorded with the entry, so that
-- a page of GET /changes stops before a byte budget (PAGE_MAX_BYTES) by reading this index alone, without
-- the entries it leaves out (issue 25).
ALTER TABLE "feed_entries" ADD COLUMN "size" INTEGER NOT NULL DEFAULT 0;
UPDATE "feed_entries" SET "size" = LENGTH(CAST("key" AS BLOB)) + COALESCE(LENGTH(CAST("fields" AS BLOB)), 0);

-- CreateIndex
CREATE INDEX "feed_entries_cursor_size_idx" ON "feed_entries"("cursor", "size");
