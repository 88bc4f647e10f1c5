// Command line of `npm run prune` (src/scripts/prune.ts), kept apart so that tests can call it.

export const USAGE = 'usage: npm run prune -- --older-than <age>   (age: a whole number of days or hours, e.g. 90d or 36h)'
const UNIT_MS = { d: 86_400_000, h: 3_600_000 }

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Reads `--older-than <age>` (or `--older-than=<age>`) into milliseconds. */
export function parsePruneArgs (argv: string[]): number {
  let age: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--older-than') {
      if (i + 1 === argv.length) throw new UsageError(`--older-than needs an age\n${USAGE}`)
      age = argv[++i]
    } else if (arg.startsWith('--older-than=')) age = arg.slice('--older-than='.length)
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
  }
  if (age === undefined) throw new UsageError(`--older-than is required\n${USAGE}`)
  const match = /^([1-9][0-9]{0,5})([dh])$/.exec(age)
  if (match === null) throw new UsageError(`invalid age ${JSON.stringify(age)}: expected e.g. 90d or 36h\n${USAGE}`)
  return Number(match[1]) * UNIT_MS[match[2] as 'd' | 'h']
}

