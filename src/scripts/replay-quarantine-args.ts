// Command line of `npm run replay-quarantine` (src/scripts/replay-quarantine.ts), kept apart so that tests can call it.

export const USAGE = 'usage: npm run replay-quarantine -- --id <id> | --all'

export class UsageError extends Error {
  override name = 'UsageError'
}

export type ReplayArgs = { all: true } | { all: false, ids: number[] }

/** `--id <id>` (repeatable) or `--all`, not both, not neither. */
export function parseReplayArgs (argv: string[]): ReplayArgs {
  const ids: number[] = []
  let all = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--all') all = true
    else if (arg === '--id') {
      const value = argv[++i]
      if (value === undefined || !/^[1-9][0-9]{0,14}$/.test(value)) throw new UsageError(`--id needs a quarantine item id (a positive whole number), got ${JSON.stringify(value ?? '')}\n${USAGE}`)
      ids.push(Number(value))
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
  }
  if (all && ids.length > 0) throw new UsageError(`--all and --id together: choose one\n${USAGE}`)
  if (!all && ids.length === 0) throw new UsageError(`nothing to replay: name items with --id, or --all\n${USAGE}`)
  return all ? { all } : { all, ids }
}
