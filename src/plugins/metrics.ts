import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface Metrics {
  /** One registry per app instance: tests build many apps in one process. */
  registry: Registry
  /** Counts one POST /events by its `event_type` and outcome (applied, stale, duplicate, ignored, invalid). */
  eventReceived: (eventType: unknown, outcome: string) => void
}

// Why a request was refused, by status. 503 covers a slow or unavailable database and back-pressure.
const REJECTION: Record<number, string> = {
  400: 'validation', 401: 'auth', 413: 'size', 415: 'content_type', 429: 'rate_limited', 503: 'unavailable'
}

// event_type comes from the (authenticated) sender: keep the label set bounded.
const eventTypeLabel = (value: unknown): string =>
  typeof value === 'string' && /^[a-z0-9_]{1,64}$/.test(value) ? value : 'other'

/**
 * Prometheus metrics: requests, rejections, events by type and outcome, and how long database
 * transactions take (repository.record is wrapped). Served by routes/metrics.ts.
 * Quarantine size: there is no quarantine table yet; add a Gauge here with a `collect()` that counts it.
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
    help: 'Events posted to /events, by event_type and outcome (applied, stale, duplicate, ignored, invalid).',
    labelNames: ['event_type', 'outcome'],
    registers: [registry]
  })
  const transactionDuration = new Histogram({
    name: 'receiver_db_transaction_duration_seconds',
    help: 'Time to record one event in the database (one transaction), by outcome or "error".',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })

  const repository = fastify.repository
  const record = repository.record.bind(repository)
  repository.record = async (...args) => {
    const end = transactionDuration.startTimer()
    try {
      const outcome = await record(...args)
      end({ outcome })
      return outcome
    } catch (err) {
      end({ outcome: 'error' })
      throw err
    }
  }

  fastify.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode
    requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: status }, reply.elapsedTime / 1000)
    const reason = REJECTION[status]
    if (reason !== undefined) rejected.inc({ reason })
  })

  fastify.decorate('metrics', {
    registry,
    eventReceived: (eventType, outcome) => { received.inc({ event_type: eventTypeLabel(eventType), outcome }) }
  })
}, { name: 'metrics', dependencies: ['database'] })
