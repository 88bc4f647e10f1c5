import { ConfigError, loadConfig } from '../config.js'
import { migrateSqlite } from '../db/sqlite.js'

// `npm run db:migrate`: applies pending migrations without starting the service (the service also
// applies them at start).
try {
  const config = loadConfig()
  const applied = await migrateSqlite({
    url: config.DATABASE_URL,
    busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
    synchronous: config.SQLITE_SYNCHRONOUS
  })
  process.stdout.write(applied.length === 0 ? 'database is up to date\n' : `applied: ${applied.join(', ')}\n`)
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
