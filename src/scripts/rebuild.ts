import { ConfigError, loadConfig } from '../config.js'
import { openRepository } from '../db/open.js'

// `npm run rebuild`: drops the projected state and applies every recorded event again with this
// version's code. Run it after an upgrade that projects more: events recorded as `ignored` by an older
// version are back-filled. Events an older version stored with data redacted are not applied, and
// counted. Safe to run while the service runs (one transaction).
try {
  const { repository } = await openRepository(loadConfig())
  try {
    const { events, unreadable, inexact } = await repository.rebuild()
    process.stdout.write(`rebuilt the projection from ${events} recorded events${unreadable > 0 ? ` (${unreadable} unreadable, skipped)` : ''}\n`)
    // Applying them would write [REDACTED] where SaaSus sent data; a reconciliation brings their state back.
    if (inexact > 0) process.stdout.write(`${inexact} event(s) stored by an older version with data redacted (names that looked like secrets) were not applied: run npm run reconcile to load their state from SaaSus\n`)
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exitCode = 1
}
