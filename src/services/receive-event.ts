import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from '../plugins/metrics.js'
import { parseEvent, type Parsed } from '../events/parse.js'
import { MAX_EVENT_VALUES } from '../events/json-value.js'
import { OversizedEvent } from '../events/oversized.js'
import { parseItemText } from '../plugins/json-body.js'
import { WorkSlice, nextTurn } from '../work-slice.js'
import { WRITE_WINDOW_ROWS, WriteWindow, settlesWithin, writeWeight } from './write-window.js'
import type { Clock } from '../events/decode.js'
import type { ValidationProblem } from '../events/checker.js'
import { quarantineCopy } from '../events/quarantine-copy.js'
import type { Outcome, QuarantineEntry, QuarantineResult, Repository } from '../db/repository.js'
import { dataErrorReason } from '../db/engines/data-error.js'

export type Result =
  | { id: string, outcome: Outcome }
  | { id: string | null, outcome: 'rejected' | 'unconfirmed', error: { field: string, message: string } }

/** The envelope id of an item that failed validation, when it has a usable one. */
function envelopeId (item: unknown): string | null {
  const id = (item as { id?: unknown } | null)?.id
  return typeof id === 'string' && id !== '' ? id.slice(0, 256) : null
}

/** What taking an event needs from the app, for one request. */
export interface Receiver {
  repository: Repository
  log: FastifyBaseLogger
  metrics: Pick<Metrics, 'eventReceived' | 'quarantined'>
  /** Races the database against the request's deadline (503 when it runs out). */
  withinDeadline: <T>(work: Promise<T>) => Promise<T>
  /** Milliseconds left before the request's deadline (REQUEST_DEADLINE_MS from its arrival). */
  remainingMs: () => number
  /** This host's clock and the future skew an event's time may have (MAX_FUTURE_SKEW_MS). */
  clock: () => Clock
}

const eventType = (item: unknown): unknown => (item as { detail?: { event_type?: unknown } } | null)?.detail?.event_type

/** An item refused by validation: what to quarantine, and what to answer. */
interface Refusal {
  entry: QuarantineEntry
  result: Result & { outcome: 'rejected' }
  item: unknown
}

/**
 * An item (a parsed event, or an OversizedEvent the body parser did not parse) to an event or the reason
 * it is refused: every check an event passes before it is applied, for deliveries and for replays of
 * quarantined items alike (console/replay.ts).
 */
export const judgeItem = (item: unknown, clock: Clock): Parsed =>
  item instanceof OversizedEvent ? { ok: false, problem: item.problem } : parseEvent(item, clock, MAX_EVENT_VALUES)

/**
 * A quarantined item's text as received (console/replay.ts) to an event or the reason it is refused: the
 * body parser's checks for one event (BODY_LIMIT; MAX_EVENT_VALUES counted before parsing), then judgeItem.
 */
export function judgeText (text: string, clock: Clock, bodyLimit: number): Parsed {
  const bytes = Buffer.from(text)
  if (bytes.length > bodyLimit) return { ok: false, problem: { field: '', message: `is ${bytes.length} bytes: larger than BODY_LIMIT (${bodyLimit})` } }
  let item: unknown
  try {
    item = parseItemText(bytes)
  } catch (err) {
    return { ok: false, problem: { field: '', message: (err as Error).message } }
  }
  return judgeItem(item, clock)
}

function refusal (item: unknown, { field, message }: ValidationProblem): Refusal {
  const id = envelopeId(item)
  return {
    entry: { envelopeId: id, field, error: message, ...quarantineCopy(item, { field, message }) },
    result: { id, outcome: 'rejected', error: { field, message: `body${field} ${message}` } },
    item
  }
}

/**
 * A valid event the database refused for its own values (out of range, too long for an index, ...:
 * db/engines/data-error.ts), or undefined when the failure is of another kind. Sent again it would fail
 * again: it is refused like an invalid event, not answered 500.
 */
function storageRefusal (item: unknown, err: unknown): Refusal | undefined {
  const message = dataErrorReason(err)
  return message === undefined ? undefined : refusal(item, { field: '', message })
}

/** Log and metrics for a refused item, saying whether the quarantine kept it. */
function reportRefusal ({ log, metrics }: Receiver, { entry, item }: Refusal, fate: QuarantineResult): void {
  metrics.eventReceived(eventType(item), 'rejected')
  metrics.quarantined(fate)
  const event = { id: entry.envelopeId, outcome: 'rejected' }
  if (fate === 'not_kept') {
    log.warn({ event, field: entry.field, reason: entry.error, quarantine: fate },
      'rejected: invalid event, NOT quarantined: the quarantine is full (QUARANTINE_MAX_ROWS / QUARANTINE_MAX_BYTES)')
  } else {
    log.info({ event, field: entry.field, reason: entry.error, quarantine: fate }, 'rejected: invalid event, quarantined')
  }
}

function reportRecorded ({ log, metrics }: Receiver, id: string, type: string, outcome: Outcome, started: number): void {
  metrics.eventReceived(type, outcome)
  log.info({ event: { id, type, outcome }, durationMs: Math.round((performance.now() - started) * 100) / 100 }, 'event recorded')
}

/**
 * Takes one delivered event, all or nothing: a valid event is recorded and applied; an invalid one is kept
 * in quarantine with the reason (secrets redacted) and reported as rejected, even when the quarantine is
 * full (then the log and metrics say it was not kept). Throws when the database fails or the deadline passes.
 */
export async function receiveEvent (receiver: Receiver, item: unknown): Promise<Result> {
  const { repository, withinDeadline } = receiver
  const started = performance.now()
  const parsed = judgeItem(item, receiver.clock())
  if (!parsed.ok) {
    // Checking, redacting and storing a large refused body are each a long step: others get turns between.
    await nextTurn()
    const refused = refusal(item, parsed.problem)
    await nextTurn()
    const [fate] = await withinDeadline(repository.quarantine([refused.entry]))
    reportRefusal(receiver, refused, fate)
    return refused.result
  }
  const { event, plan } = parsed
  let outcome: Outcome
  try {
    outcome = await withinDeadline(repository.record(event, plan))
  } catch (err) {
    const refused = storageRefusal(item, err)
    if (refused === undefined) throw err
    const [fate] = await withinDeadline(repository.quarantine([refused.entry]))
    reportRefusal(receiver, refused, fate)
    return refused.result
  }
  reportRecorded(receiver, event.id, event.eventType, outcome, started)
  return { id: event.id, outcome }
}

const UNCONFIRMED = 'not confirmed before the answer (database unavailable or REQUEST_DEADLINE_MS passed); ' +
  'it may still be recorded: send it again (a recorded event is then answered duplicate)'

/**
 * Takes the items of a batch, `chunkSize` at a time: each chunk is validated, its valid events submitted
 * to group commit and its invalid items quarantined in one transaction, then the event loop gets a turn
 * before the next chunk. At most WRITE_WINDOW_ROWS rows of the batch's events are in the write path at
 * once (WriteWindow): the next event waits for earlier ones to commit, so that a batch of heavy events
 * never makes one huge transaction. Every item gets its own result, which never reports failure for work that was
 * committed: what was not confirmed by the deadline (or when the database failed) is `unconfirmed`. Only
 * when nothing at all was committed does the error propagate (503: the whole batch is retried; a retry
 * adds no rows, as events are de-duplicated by id and the quarantine by content).
 */
export async function receiveBatch (receiver: Receiver, items: unknown[], chunkSize: number): Promise<Result[]> {
  const { repository, remainingMs } = receiver
  const results: Array<Result | undefined> = new Array<Result | undefined>(items.length).fill(undefined)
  const recording: Array<Promise<void>> = []
  const window = new WriteWindow(WRITE_WINDOW_ROWS)
  let failure: unknown
  // Valid events the database refused for their own values: quarantined after the batch's writes.
  const unstorable: Array<Refusal & { index: number }> = []
  let committed = false
  let stopped = false
  /**
   * Quarantines refused items in one transaction and gives them their results; false when the deadline
   * passed first or the quarantine failed (its items stay unconfirmed).
   */
  const keep = async (refused: Array<Refusal & { index: number }>): Promise<boolean> => {
    const quarantined = repository.quarantine(refused.map(r => r.entry))
    try {
      if (!await settlesWithin(quarantined.catch(() => {}), remainingMs())) return false
      const fates = await quarantined
      committed = true
      refused.forEach((r, k) => {
        results[r.index] = r.result
        reportRefusal(receiver, r, fates[k])
      })
      return true
    } catch (err) {
      failure ??= err
      return false
    }
  }
  for (let start = 0; start < items.length && !stopped; start += chunkSize) {
    if (start > 0) {
      await nextTurn()
      // A write of the previous chunk may have failed, or the deadline passed, meanwhile.
      if (failure !== undefined || remainingMs() <= 0) break
    }
    const clock = receiver.clock()
    const refused: Array<Refusal & { index: number }> = []
    // Items of up to MAX_EVENT_VALUES values each: a chunk of large ones yields within itself too.
    const slice = new WorkSlice()
    for (let i = start; i < Math.min(items.length, start + chunkSize); i++) {
      await slice.turn()
      const started = performance.now()
      const parsed = judgeItem(items[i], clock)
      if (!parsed.ok) {
        refused.push({ index: i, ...refusal(items[i], parsed.problem) })
        continue
      }
      const { event, plan } = parsed
      const rows = writeWeight(plan)
      // The deadline passed while earlier events were still being written: this one stays unconfirmed.
      if (!await window.room(rows, remainingMs)) { stopped = true; break }
      const write = repository.record(event, plan).then(outcome => {
        committed = true
        results[i] = { id: event.id, outcome }
        reportRecorded(receiver, event.id, event.eventType, outcome, started)
      }, err => {
        const unstored = storageRefusal(items[i], err)
        if (unstored === undefined) failure ??= err
        else unstorable.push({ index: i, ...unstored })
      })
      window.add(rows, write)
      recording.push(write)
    }
    if (refused.length === 0 || stopped) continue
    if (!await keep(refused)) break
  }
  await settlesWithin(Promise.all(recording), remainingMs())
  if (unstorable.length > 0) await keep(unstorable)
  if (!committed) {
    if (failure !== undefined) throw failure
    if (results.some(r => r === undefined)) throw new BatchDeadlineError(`no item of the batch was recorded within the request's deadline`)
  }
  const unconfirmed = results.filter(r => r === undefined).length
  if (unconfirmed > 0) receiver.log.warn({ err: failure, unconfirmed, items: items.length }, 'batch answered with unconfirmed items')
  return results.map((r, i) => {
    if (r !== undefined) return r
    receiver.metrics.eventReceived(eventType(items[i]), 'unconfirmed')
    return { id: envelopeId(items[i]), outcome: 'unconfirmed', error: { field: '', message: UNCONFIRMED } }
  })
}

/** Nothing of a batch was committed before its deadline: 503, like a single event's deadline. */
export class BatchDeadlineError extends Error {
  override name = 'BatchDeadlineError'
  readonly statusCode = 503
}
