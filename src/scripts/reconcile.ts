import { ConfigError, loadConfig } from '../config.js'
import { openRepository } from '../db/open.js'
import { formatDrift } from '../reconcile/drift.js'
import { reconcilerFor } from '../reconcile/from-config.js'
import type { RunResult } from '../reconcile/reconciler.js'
import { parseReconcileArgs, UsageError } from './reconcile-args.js'

// `npm run reconcile [-- --dry-run] [--json] [--allow-mass-delete]`: reads a complete snapshot from SaaSus's
// Auth API, applies it to DATABASE_URL through the version guards, prints the drift per entity and exits 0.
// Exits 1 with a one-line reason, having written nothing, on bad configuration, refused credentials, an
// incomplete snapshot, a snapshot deleting more of the copy than RECONCILE_MAX_DELETE_FRACTION allows
// (unless --allow-mass-delete), or when another run holds the lease, and after a failure part-way (what it
// applied is kept). Safe beside the running service: on SQLite each chunk takes the write lock first.

const asJson = (r: RunResult) => ({
  id: r.id,
  outcome: r.outcome,
  dry_run: r.dryRun,
  snapshot_version: r.snapshotVersion,
  started_at: r.startedAt.toISOString(),
  ended_at: r.endedAt.toISOString(),
  drift: r.drift,
  error: r.error ?? null
})

const asText = (r: RunResult): string => [
  `reconciliation ${r.id} ${r.outcome}${r.dryRun ? ' (dry run: nothing written)' : ''} in ${((r.endedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(1)} s, snapshot version ${r.snapshotVersion}`,
  formatDrift(r.drift)
].join('\n')

const quiet = { info: () => {}, warn: () => {} }

try {
  const args = parseReconcileArgs(process.argv.slice(2))
  const config = loadConfig()
  const { repository } = await openRepository(config)
  try {
    const reconciler = reconcilerFor(config, repository, quiet)
    if (reconciler === undefined) throw new ConfigError(['SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY are required to reconcile'])
    const result = await reconciler.run({ dryRun: args.dryRun, trigger: 'manual', allowMassDelete: args.allowMassDelete })
    if (result.outcome === 'succeeded') process.stdout.write(`${args.json ? JSON.stringify(asJson(result)) : asText(result)}\n`)
    else {
      if (args.json) process.stdout.write(`${JSON.stringify(asJson(result))}\n`)
      process.stderr.write(`reconciliation ${result.outcome}: ${String(result.error)}\n`)
      process.exitCode = 1
    }
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError || err instanceof UsageError ? err.message.replace(/\n {2}- /g, ' ') : String(err)}\n`)
  process.exitCode = 1
}
