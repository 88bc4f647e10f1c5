import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { OPERATION_NAMES } from '../events/operations.js'
import type { QuarantineResult } from '../db/repository.js'
import { ReconcileStore } from '../db/reconcile-store.js'
import { CHANGE_KINDS, REPORT_ENTITIES } from '../reconcile/drift.js'
import type { RunResult } from '../reconcile/reconciler.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface Metrics {
  /** One registry per app instance: tests build many apps in one process. */
  registry: Registry
  /** Counts one event posted to /events by its `event_type` and outcome (applied, stale, duplicate, ignored, rejected). */
  eventReceived: (eventType: unknown, outcome: string) => void
  /** Counts one refused item by what the quarantine did with it (kept, repeat, not_kept). */
  quarantined: (result: QuarantineResult) => void
  /** Counts a finished reconciliation run of this process and the drift it found. */
  reconcileFinished: (result: RunResult) => void
}

// Why a request was refused, by status. 503 covers a slow or unavailable database and back-pressure.
const REJECTION: Record<number, string> = {
  400: 'validation', 401: 'auth', 413: 'size', 415: 'content_type', 429: 'rate_limited', 503: 'unavailable'
}

// event_type comes from the sender: only the operations this version knows are labels of their own, so
// that the number of series stays bounded whatever is sent.
export const eventTypeLabel = (value: unknown): string =>
  typeof value === 'string' && OPERATION_NAMES.has(value) ? value : 'other'

/**
 * Prometheus metrics: requests, rejections, events by type and outcome, how long database transactions
 * take and how many events each carries (group commit), and the quarantine's size. Served by
 * routes/metrics.ts.
 */
export default fp(async (fastify) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const requestDuration = new Histogram({
    name: 'receiver_http_request_duration_seconds',
    help: 'HTTP request latency, from arrival to the last byte of the answer.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4.5, 10],
    registers: [registry]
  })
  const rejected = new Counter({
    name: 'receiver_requests_rejected_total',
    help: 'Requests refused, by reason: auth, validation, size, content_type, rate_limited, unavailable.',
    labelNames: ['reason'],
    registers: [registry]
  })
  const received = new Counter({
    name: 'receiver_events_received_total',
    help: 'Events posted to /events, by event_type (a known operation, else other) and outcome (applied, stale, duplicate, ignored, rejected, unconfirmed).',
    labelNames: ['event_type', 'outcome'],
    registers: [registry]
  })
  const transactionDuration = new Histogram({
    name: 'receiver_db_transaction_duration_seconds',
    help: 'Time to write one batch of events in one database transaction (retries included), by result.',
    labelNames: ['result'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  const batchSize = new Histogram({
    name: 'receiver_db_batch_events',
    help: 'Events written together in one transaction (group commit).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry]
  })
  const quarantinedItems = new Counter({
    name: 'receiver_quarantine_items_total',
    help: 'Refused items by what the quarantine did: kept (new row), repeat (same content as a kept row), not_kept (quarantine full).',
    labelNames: ['result'],
    registers: [registry]
  })
  const repository = fastify.repository
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'receiver_quarantine_events',
    help: 'Rows kept in quarantine because they failed validation (QUARANTINE_MAX_ROWS is the cap).',
    registers: [registry],
    async collect () { this.set((await repository.quarantineSize()).rows) }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'receiver_quarantine_bytes',
    help: 'Bytes of refused content kept in quarantine (QUARANTINE_MAX_BYTES is the cap).',
    registers: [registry],
    async collect () { this.set((await repository.quarantineSize()).bytes) }
  })

  const reconcileRuns = new Counter({
    name: 'receiver_reconcile_runs_total',
    help: 'Reconciliation runs of this process with SaaSus, by outcome (succeeded, failed, skipped, refused: it would have deleted more than RECONCILE_MAX_DELETE_FRACTION of the copy), and runs it found dead and marked abandoned.',
    labelNames: ['outcome'],
    registers: [registry]
  })
  const reconcileDrift = new Counter({
    name: 'receiver_reconcile_drift_total',
    help: 'Rows reconciliation runs of this process found, by entity and change (created, updated, deleted, unchanged).',
    labelNames: ['entity', 'change'],
    registers: [registry]
  })
  const reconcileStore = new ReconcileStore(repository)
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'receiver_reconcile_last_success_timestamp_seconds',
    help: 'When the newest successful reconciliation (by any process on this database) ended, in Unix seconds; 0 if none.',
    registers: [registry],
    async collect () { this.set(((await reconcileStore.lastSuccess())?.getTime() ?? 0) / 1000) }
  })

  // eslint-disable-next-line no-new
  new Gauge({
    name: 'receiver_reconcile_mass_delete_refused',
    help: '1 while the newest run refused for deleting more than RECONCILE_MAX_DELETE_FRACTION of the copy (by any process on this database) is newer than the newest successful run: the copy waits for an operator (npm run reconcile -- --allow-mass-delete); else 0.',
    registers: [registry],
    async collect () { this.set(await reconcileStore.massDeleteRefused() ? 1 : 0) }
  })

  const writeNow = repository.writeNow.bind(repository)
  repository.writeNow = async (...args) => {
    const end = transactionDuration.startTimer()
    try {
      const outcomes = await writeNow(...args)
      end({ result: 'committed' })
      return outcomes
    } catch (err) {
      end({ result: 'error' })
      throw err
    }
  }
  repository.onBatch = size => { batchSize.observe(size) }

  const feedEntries = new Counter({
    name: 'receiver_feed_entries_total',
    help: 'Change feed entries this process recorded, by entity and op (upsert, delete).',
    labelNames: ['entity', 'op'],
    registers: [registry]
  })
  repository.onFeed(write => { for (const { entity, op } of write.entries) feedEntries.inc({ entity, op }) })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'receiver_feed_head_cursor',
    help: 'The newest change feed cursor given out (by any process on this database).',
    registers: [registry],
    async collect () { this.set((await repository.feedBounds()).head) }
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode
    requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: status }, reply.elapsedTime / 1000)
    const reason = REJECTION[status]
    if (reason !== undefined) rejected.inc({ reason })
  })

  fastify.decorate('metrics', {
    registry,
    eventReceived: (eventType, outcome) => { received.inc({ event_type: eventTypeLabel(eventType), outcome }) },
    quarantined: result => { quarantinedItems.inc({ result }) },
    reconcileFinished: result => {
      reconcileRuns.inc({ outcome: result.outcome })
      if (result.abandoned.length > 0) reconcileRuns.inc({ outcome: 'abandoned' }, result.abandoned.length)
      if (result.dryRun) return
      for (const entity of REPORT_ENTITIES) {
        for (const change of CHANGE_KINDS) if (result.drift[entity][change] > 0) reconcileDrift.inc({ entity, change }, result.drift[entity][change])
      }
    }
  })
}, { name: 'metrics', dependencies: ['database'] })
