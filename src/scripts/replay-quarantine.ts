import { ConfigError, loadConfig } from '../config.js'
import { openRepository } from '../db/open.js'
import { ConsoleQuarantine } from '../db/console/console-quarantine.js'
import { describeReplay } from '../console/replay.js'
import { replayMany } from '../console/replay-all.js'
import { parseReplayArgs, UsageError } from './replay-quarantine-args.js'

// `npm run replay-quarantine -- --id <id> | --all`: runs quarantined items through today's validation,
// as the console's Replay button does; what passes is recorded and applied and leaves the quarantine, what
// does not stays with the new reason. One line per item. Exits 1 when an item named with --id is not in
// the quarantine, or on bad arguments or configuration. Safe beside the running service.

try {
  const args = parseReplayArgs(process.argv.slice(2))
  const config = loadConfig()
  const { repository } = await openRepository(config)
  try {
    const results = await replayMany({
      repository,
      quarantine: new ConsoleQuarantine(repository),
      log: { info: () => {} },
      clock: () => ({ now: Date.now(), maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS }),
      bodyLimit: config.BODY_LIMIT
    }, args, result => { process.stdout.write(`${describeReplay(result)}\n`) })
    const count = (kind: string) => results.filter(r => r.result === kind).length
    process.stdout.write(`${results.length} item(s): ${count('recorded')} recorded and removed, ${count('refused')} still refused, ${count('not_replayable')} not replayable, ${count('not_found')} not found\n`)
    if (count('not_found') > 0) process.exitCode = 1
  } finally {
    await repository.close()
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError || err instanceof UsageError ? err.message.replace(/\n {2}- /g, ' ') : String(err)}\n`)
  process.exitCode = 1
}
