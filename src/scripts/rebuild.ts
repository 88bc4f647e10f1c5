import { ConfigError, loadConfig } from '../config.js'
import { openRepository } from '../db/open.js'

// `npm run rebuild`: drops the projected state and applies every recorded event again with this
// version's code. Run it after an upgrade that projects more: events recorded as `ignored` by an older
// version are back-filled. Safe to run while the service runs (one transaction).
try {
  const { repository } = await openRepository(loadConfig())
  try {
    const { events, unreadable } = await repository.rebuild()
    process.stdout.write(`rebuilt the projection from ${events} recorded events${unreadable > 0 ? ` (${unreadable} unreadable, skipped)` : ''}\n`)
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
