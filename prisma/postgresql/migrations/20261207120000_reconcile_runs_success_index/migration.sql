-- The newest successful run (the last-success gauge of /metrics, the scheduler's "ever reconciled") by
-- index instead of a scan of every run: with 100,000 runs the scan took hundreds of milliseconds per scrape.

-- CreateIndex
CREATE INDEX "reconcile_runs_outcome_dry_run_ended_at_idx" ON "reconcile_runs"("outcome", "dry_run", "ended_at");
