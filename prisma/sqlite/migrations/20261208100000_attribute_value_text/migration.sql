-- An attribute value's numbers read back as the very doubles written (docs/ordering.md, "Attribute values"):
-- the column declared JSONB has NUMERIC affinity, so SQLite turned a value that is a bare number into a REAL,
-- some of them a unit in the last place off (1.2345678901234567e-300), and its JSON functions rendered REALs
-- with 15 digits (the change feed showed 0.30000000000000004 as 0.3). Declared TEXT, the JSON text is kept
-- exactly as written. A REAL kept before is rewritten with 17 significant digits: the same double again.

-- RedefineTables
CREATE TABLE "new_attribute_values" (
    "scope" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL DEFAULT '',
    "user_id" TEXT NOT NULL DEFAULT '',
    "key" TEXT NOT NULL,
    "value" TEXT,
    "v" TEXT NOT NULL,
    "removed" BOOLEAN NOT NULL DEFAULT false,

    PRIMARY KEY ("scope", "tenant_id", "user_id", "key")
);
INSERT INTO "new_attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "v", "removed")
    SELECT "scope", "tenant_id", "user_id", "key", CASE typeof("value") WHEN 'real' THEN printf('%!.17g', "value") ELSE CAST("value" AS TEXT) END, "v", "removed"
    FROM "attribute_values";
DROP TABLE "attribute_values";
ALTER TABLE "new_attribute_values" RENAME TO "attribute_values";
CREATE INDEX "attribute_values_user_id_idx" ON "attribute_values"("user_id");
