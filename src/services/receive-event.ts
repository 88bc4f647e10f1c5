import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from '../plugins/metrics.js'
import { parseEvent } from '../events/parse.js'
import { redactUntrusted } from '../events/redact.js'
import type { Outcome, Repository } from '../db/repository.js'

export type Result =
  | { id: string, outcome: Outcome }
  | { id: string | null, outcome: 'rejected', error: { field: string, message: string } }

/** The envelope id of an item that failed validation, when it has a usable one. */
function envelopeId (item: unknown): string | null {
  const id = (item as { id?: unknown } | null)?.id
  return typeof id === 'string' && id !== '' ? id.slice(0, 256) : null
}

/** What taking an event needs from the app, for one request. */
export interface Receiver {
  repository: Repository
  log: FastifyBaseLogger
  metrics: Pick<Metrics, 'eventReceived'>
  /** Races the database against the request's deadline (503 when it runs out). */
  withinDeadline: <T>(work: Promise<T>) => Promise<T>
}

const eventType = (item: unknown): unknown => (item as { detail?: { event_type?: unknown } } | null)?.detail?.event_type

/**
 * Takes one delivered item: a valid event is recorded and applied; an invalid one is kept in quarantine
 * with the reason (secrets redacted) and reported as rejected. Nothing that arrives is dropped.
 */
export async function receiveEvent ({ repository, log, metrics, withinDeadline }: Receiver, item: unknown): Promise<Result> {
  const started = performance.now()
  const parsed = parseEvent(item)
  if (!parsed.ok) {
    const { field, message } = parsed.problem
    const id = envelopeId(item)
    await withinDeadline(repository.quarantine({ envelopeId: id, field, error: message, raw: redactUntrusted(item) }))
    metrics.eventReceived(eventType(item), 'rejected')
    log.info({ event: { id, outcome: 'rejected' }, field, reason: message }, 'rejected: invalid event, quarantined')
    return { id, outcome: 'rejected', error: { field, message: `body${field} ${message}` } }
  }
  const { event, plan } = parsed
  const outcome = await withinDeadline(repository.record(event, plan))
  metrics.eventReceived(event.eventType, outcome)
  log.info({
    event: { id: event.id, type: event.eventType, outcome },
    durationMs: Math.round((performance.now() - started) * 100) / 100
  }, 'event recorded')
  return { id: event.id, outcome }
}
