-- CreateTable
CREATE TABLE "events" (
    "id" TEXT COLLATE "C" NOT NULL,
    "event_type" TEXT NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL,
    "log_id" TEXT,
    "trace_id" TEXT,
    "uri" TEXT,
    "method" TEXT,
    "http_status" INTEGER,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "outcome" TEXT NOT NULL,
    "raw" JSONB NOT NULL,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenants" (
    "id" TEXT COLLATE "C" NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,
    "name" TEXT,
    "name_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "attributes" JSONB,
    "attributes_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "back_office_staff_email" TEXT,
    "back_office_staff_email_v" TEXT COLLATE "C" NOT NULL DEFAULT '',

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT COLLATE "C" NOT NULL,
    "live" BOOLEAN NOT NULL,
    "live_v" TEXT COLLATE "C" NOT NULL,
    "email" TEXT,
    "email_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "sign_in_id" TEXT,
    "sign_in_id_v" TEXT COLLATE "C" NOT NULL DEFAULT '',
    "attributes" JSONB,
    "attributes_v" TEXT COLLATE "C" NOT NULL DEFAULT '',

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "events_log_id_idx" ON "events"("log_id");
