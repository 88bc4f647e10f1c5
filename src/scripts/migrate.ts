import { ConfigError, loadConfig } from '../config.js'
import { migrate } from '../db/open.js'

// `npm run db:migrate`: applies pending migrations without starting the service (the service also
// applies them at start).
try {
  const applied = await migrate(loadConfig())
  process.stdout.write(applied.length === 0 ? 'database is up to date\n' : `applied: ${applied.join(', ')}\n`)
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
