import { existsSync } from 'node:fs'
import { ConfigError, loadConfig } from '../config.js'
import { Repository } from '../db/repository.js'
import { sqliteDialect } from '../db/dialect.js'
import { openSqliteClient, sqliteFilePath } from '../db/sqlite.js'
import { UsageError, parsePruneArgs } from './prune-args.js'

// `npm run prune -- --older-than 90d`: deletes inbox rows received longer ago than the age. Tenants and
// users are kept: they hold the latest state, and the inbox is only the record of how it got there.

try {
  const ageMs = parsePruneArgs(process.argv.slice(2))
  const config = loadConfig()
  // Opening a missing file would create an empty database; say what is wrong instead.
  if (!existsSync(sqliteFilePath(config.DATABASE_URL))) throw new UsageError(`no database at ${sqliteFilePath(config.DATABASE_URL)} (DATABASE_URL)`)
  const prisma = await openSqliteClient({
    url: config.DATABASE_URL,
    busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
    synchronous: config.SQLITE_SYNCHRONOUS
  })
  const repository = new Repository(prisma, sqliteDialect, {
    maxWaitMs: config.TRANSACTION_MAX_WAIT_MS,
    timeoutMs: config.TRANSACTION_TIMEOUT_MS
  })
  try {
    const cutoff = new Date(Date.now() - ageMs)
    const deleted = await repository.pruneEvents(cutoff)
    process.stdout.write(`deleted ${deleted} event(s) received before ${cutoff.toISOString()}\n`)
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError || err instanceof UsageError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
