-- Replay applies what was sent (issue 25): the quarantine keeps each refused item's JSON text as received,
-- with only SaaSus's secret fields replaced ("original"), and says why when it could not ("replay_refusal").
-- Rows kept before this migration hold only a redacted copy: they can never be replayed exactly.
ALTER TABLE "quarantine" ADD COLUMN "original" TEXT;
ALTER TABLE "quarantine" ADD COLUMN "replay_refusal" TEXT;
UPDATE "quarantine" SET "replay_refusal" = 'kept by an older version as a redacted copy only (secrets, and anything that looked like one, rewritten; unstorable values replaced): it cannot be replayed exactly';
