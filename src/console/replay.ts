import type { FastifyBaseLogger } from 'fastify'
import type { Clock } from '../events/decode.js'
import { judgeText } from '../services/receive-event.js'
import type { Outcome, Repository } from '../db/repository.js'
import type { ConsoleQuarantine } from '../db/console/console-quarantine.js'

// Replay of a quarantined item: the item's text as received (only SaaSus's secret fields replaced) goes
// through every check a delivery goes through (services/receive-event.ts: BODY_LIMIT, MAX_EVENT_VALUES,
// the event's own checks with this host's clock). An item that passes is recorded and applied through
// the intake's own path (Repository.record: group commit, de-duplication, version guards, change feed),
// exactly as sent, then removed from the quarantine; one still refused stays, with today's field and
// reason. An item kept without its text (by an older version, or too large to parse) is never replayed.

export type ReplayResult =
  | { id: number, result: 'recorded', event_id: string, outcome: Outcome }
  | { id: number, result: 'refused', field: string, message: string }
  | { id: number, result: 'not_replayable', reason: string }
  | { id: number, result: 'not_found' }

export interface Replayer {
  repository: Repository
  quarantine: ConsoleQuarantine
  log: Pick<FastifyBaseLogger, 'info'>
  /** This host's clock and the future skew an event's time may have (MAX_FUTURE_SKEW_MS). */
  clock: () => Clock
  /** BODY_LIMIT: an item longer than a delivery may be is refused. */
  bodyLimit: number
  /** Counts a replayed item that was recorded, as the intake counts a delivery (absent in the CLI). */
  eventReceived?: (eventType: string, outcome: string) => void
}

export async function replayQuarantined (replayer: Replayer, id: number): Promise<ReplayResult> {
  const item = await replayer.quarantine.item(id)
  if (item === undefined) return { id, result: 'not_found' }
  if (item.original === null) {
    /* c8 ignore next -- the repository sets a reason whenever it keeps no original */
    const reason = item.replay_refusal ?? 'the item as received was not kept'
    replayer.log.info({ quarantineId: id, reason }, 'quarantine replay: not replayable, kept')
    return { id, result: 'not_replayable', reason }
  }
  const parsed = judgeText(item.original, replayer.clock(), replayer.bodyLimit)
  if (!parsed.ok) {
    const { field, message } = parsed.problem
    await replayer.quarantine.refusedAgain(id, field, message)
    replayer.log.info({ quarantineId: id, field, reason: message }, 'quarantine replay: still refused, kept')
    return { id, result: 'refused', field, message }
  }
  const { event, plan } = parsed
  const outcome = await replayer.repository.record(event, plan)
  // Only once the event is committed: a failure before leaves the item where it was.
  await replayer.quarantine.remove(id)
  replayer.eventReceived?.(event.eventType, outcome)
  replayer.log.info({ quarantineId: id, event: { id: event.id, type: event.eventType, outcome } }, 'quarantine replay: recorded, removed from the quarantine')
  return { id, result: 'recorded', event_id: event.id, outcome }
}

/** One line saying what became of an item (the CLI's output, the console's notice). */
export function describeReplay (r: ReplayResult): string {
  switch (r.result) {
    case 'recorded': return `quarantine item ${r.id}: passes today's validation; recorded as event ${r.event_id} (${r.outcome}) and removed from the quarantine`
    case 'refused': return `quarantine item ${r.id}: still refused (body${r.field} ${r.message}); kept with this reason`
    case 'not_replayable': return `quarantine item ${r.id}: cannot be replayed exactly (${r.reason}); kept as it is`
    case 'not_found': return `quarantine item ${r.id}: not found (already replayed or pruned)`
  }
}
