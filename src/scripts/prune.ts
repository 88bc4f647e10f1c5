import { existsSync } from 'node:fs'
import { ConfigError, loadConfig } from '../config.js'
import { Repository } from '../db/repository.js'
import { sqliteDialect } from '../db/dialect.js'
import { openSqliteClient, sqliteFilePath } from '../db/sqlite.js'

// `npm run prune -- --older-than 90d`: deletes inbox rows received longer ago than the age. Tenants and
// users are kept: they hold the latest state, and the inbox is only the record of how it got there.

const USAGE = 'usage: npm run prune -- --older-than <age>   (age: a whole number of days or hours, e.g. 90d or 36h)'
const UNIT_MS = { d: 86_400_000, h: 3_600_000 }

class UsageError extends Error {}

/** Reads `--older-than <age>` (or `--older-than=<age>`) into milliseconds. */
function parsePruneArgs (argv: string[]): number {
  let age: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--older-than' && i + 1 < argv.length) age = argv[++i]
    else if (arg.startsWith('--older-than=')) age = arg.slice('--older-than='.length)
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
  }
  if (age === undefined) throw new UsageError(`--older-than is required\n${USAGE}`)
  const match = /^([1-9][0-9]{0,5})([dh])$/.exec(age)
  if (match === null) throw new UsageError(`invalid age ${JSON.stringify(age)}: expected e.g. 90d or 36h\n${USAGE}`)
  return Number(match[1]) * UNIT_MS[match[2] as 'd' | 'h']
}

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
