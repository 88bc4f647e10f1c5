import { existsSync } from 'node:fs'
import { ConfigError, loadConfig } from '../config.js'
import { engineOf } from '../db/engines/engine.js'
import { openRepository } from '../db/open.js'
import { sqliteFilePath } from '../db/engines/sqlite.js'
import { UsageError, parsePruneArgs } from './prune-args.js'

// `npm run prune -- --older-than 90d`: deletes inbox rows received, change feed entries recorded,
// quarantine rows last seen, and reconciliation runs started longer ago than the age (the newest successful
// run and runs in progress are kept). Tenants and users are kept: they hold the latest state,
// and the inbox and the feed are only the record of how it got there (a feed reader behind the pruned
// entries is answered 410).

try {
  const ageMs = parsePruneArgs(process.argv.slice(2))
  const config = loadConfig()
  // Opening a missing file would create an empty database; say what is wrong instead.
  if (engineOf(config.DATABASE_URL) === 'sqlite' && !existsSync(sqliteFilePath(config.DATABASE_URL))) {
    throw new UsageError(`no database at ${sqliteFilePath(config.DATABASE_URL)} (DATABASE_URL)`)
  }
  // No migration here: pruning must not turn a wrong file into an empty receiver database.
  const { repository } = await openRepository(config, { migrate: false })
  try {
    const cutoff = new Date(Date.now() - ageMs)
    const deleted = await repository.pruneEvents(cutoff)
    process.stdout.write(`deleted ${deleted} event(s) received before ${cutoff.toISOString()}\n`)
    const quarantined = await repository.pruneQuarantine(cutoff)
    process.stdout.write(`deleted ${quarantined} quarantine row(s) last seen before ${cutoff.toISOString()}\n`)
    const entries = await repository.pruneFeed(cutoff)
    process.stdout.write(`deleted ${entries} change feed entr${entries === 1 ? 'y' : 'ies'} recorded before ${cutoff.toISOString()}\n`)
    const runs = await repository.pruneReconcileRuns(cutoff)
    process.stdout.write(`deleted ${runs} reconciliation run(s) started before ${cutoff.toISOString()}\n`)
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError || err instanceof UsageError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
