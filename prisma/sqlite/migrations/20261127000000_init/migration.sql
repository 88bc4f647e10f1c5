-- CreateTable
CREATE TABLE "events" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "event_type" TEXT NOT NULL,
    "time" DATETIME NOT NULL,
    "log_id" TEXT,
    "trace_id" TEXT,
    "uri" TEXT,
    "method" TEXT,
    "http_status" INTEGER,
    "received_at" DATETIME NOT NULL,
    "outcome" TEXT NOT NULL,
    "raw" JSONB NOT NULL
);

-- CreateTable
CREATE TABLE "tenants" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "name" TEXT,
    "name_v" TEXT NOT NULL DEFAULT '',
    "attributes" JSONB,
    "attributes_v" TEXT NOT NULL DEFAULT '',
    "back_office_staff_email" TEXT,
    "back_office_staff_email_v" TEXT NOT NULL DEFAULT ''
);

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT NOT NULL,
    "email" TEXT,
    "email_v" TEXT NOT NULL DEFAULT '',
    "sign_in_id" TEXT,
    "sign_in_id_v" TEXT NOT NULL DEFAULT '',
    "attributes" JSONB,
    "attributes_v" TEXT NOT NULL DEFAULT ''
);

-- CreateIndex
CREATE INDEX "events_log_id_idx" ON "events"("log_id");
