import { ConfigError, loadConfig } from '../config.js'
import { migrateDatabase } from '../db/engines/engine.js'

// `npm run db:migrate`: applies pending migrations without starting the service (the service also
// applies them at start).
try {
  const config = loadConfig()
  const applied = await migrateDatabase(config)
  process.stdout.write(applied.length === 0 ? 'database is up to date\n' : `applied: ${applied.join(', ')}\n`)
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
