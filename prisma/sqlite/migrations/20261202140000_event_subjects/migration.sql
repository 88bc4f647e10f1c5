-- The tenant and the user each stored event's SaaSus call names (src/events/subjects.ts), whatever its
-- outcome: the console's tenant and user filters find stale and ignored events too, beyond the change
-- feed's retention. Rows stored before this migration have neither (the filters also use the feed).

-- AlterTable
ALTER TABLE "events" ADD COLUMN "tenant_id" TEXT;
ALTER TABLE "events" ADD COLUMN "user_id" TEXT;

-- CreateIndex
CREATE INDEX "events_tenant_id_received_at_idx" ON "events"("tenant_id", "received_at");

-- CreateIndex
CREATE INDEX "events_user_id_received_at_idx" ON "events"("user_id", "received_at");
