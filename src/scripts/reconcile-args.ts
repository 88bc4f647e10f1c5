// Command line of `npm run reconcile` (src/scripts/reconcile.ts), kept apart so that tests can call it.

export const USAGE = 'usage: npm run reconcile -- [--dry-run] [--json] [--allow-mass-delete]'

export class UsageError extends Error {
  override name = 'UsageError'
}

export interface ReconcileArgs {
  dryRun: boolean
  json: boolean
  /** Apply a snapshot even when it deletes more of the copy than RECONCILE_MAX_DELETE_FRACTION allows. */
  allowMassDelete: boolean
}

export function parseReconcileArgs (argv: string[]): ReconcileArgs {
  const args = { dryRun: false, json: false, allowMassDelete: false }
  for (const arg of argv) {
    if (arg === '--dry-run') args.dryRun = true
    else if (arg === '--json') args.json = true
    else if (arg === '--allow-mass-delete') args.allowMassDelete = true
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
  }
  return args
}
