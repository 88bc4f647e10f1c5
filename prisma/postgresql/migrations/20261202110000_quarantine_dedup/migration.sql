-- Quarantine bounds (issue 18): a content hash so that the same refused item is kept once (a repeat raises
-- "count" and "last_seen_at"), and each row's size in bytes for QUARANTINE_MAX_BYTES and the metrics gauge.
-- Rows kept before this migration have no hash.
ALTER TABLE "quarantine" ADD COLUMN "hash" TEXT;
ALTER TABLE "quarantine" ADD COLUMN "count" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "quarantine" ADD COLUMN "last_seen_at" TIMESTAMPTZ(3);
ALTER TABLE "quarantine" ADD COLUMN "size" INTEGER NOT NULL DEFAULT 0;
UPDATE "quarantine" SET "last_seen_at" = "received_at", "size" = octet_length("raw"::text);
ALTER TABLE "quarantine" ALTER COLUMN "last_seen_at" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "quarantine_hash_key" ON "quarantine"("hash");

-- CreateIndex
CREATE INDEX "quarantine_last_seen_at_idx" ON "quarantine"("last_seen_at");
