-- The operator console (issue 15): indexes for its paged, filtered reads, and its sessions (token hashes).

-- CreateIndex
CREATE INDEX "events_event_type_received_at_idx" ON "events"("event_type", "received_at");

-- CreateIndex
CREATE INDEX "events_outcome_received_at_idx" ON "events"("outcome", "received_at");

-- CreateIndex
CREATE INDEX "feed_entries_event_id_idx" ON "feed_entries"("event_id");

-- The tenant and the user a feed entry concerns (not expressible in schema.prisma): the console's
-- tenant and user filters of the event list. The queries in src/db/console-reads.ts use these expressions.
CREATE INDEX "feed_entries_tenant_idx" ON "feed_entries"((CASE WHEN "entity" = 'tenant' THEN "key" ->> 'id' ELSE "key" ->> 'tenant_id' END));
CREATE INDEX "feed_entries_user_idx" ON "feed_entries"((CASE WHEN "entity" = 'user' THEN "key" ->> 'id' ELSE "key" ->> 'user_id' END));

-- CreateTable
CREATE TABLE "console_sessions" (
    "id" TEXT COLLATE "C" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "console_sessions_expires_at_idx" ON "console_sessions"("expires_at");
