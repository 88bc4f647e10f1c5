-- An attribute value may be any JSON value, null included (SaaSus's definition): a key whose value is null
-- stays, with a JSON null `value`. A key taken away (absent from a reconciliation's snapshot) is marked
-- `removed`; until now a NULL `value` meant that, so every such row is marked.

-- AlterTable
ALTER TABLE "attribute_values" ADD COLUMN "removed" BOOLEAN NOT NULL DEFAULT false;

UPDATE "attribute_values" SET "removed" = true WHERE "value" IS NULL;
