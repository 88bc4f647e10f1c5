import { getHeapStatistics } from 'node:v8'
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'

/**
 * Back-pressure: while the event loop lags or the heap is nearly full, answer 503 + Retry-After at once
 * (EventBridge retries later) instead of queueing work the process cannot finish within 5 s. A route opts
 * out with `config: { pressureHandler: () => undefined }` (/healthz, /metrics).
 */
export default fp(async (fastify) => {
  const { config } = fastify
  const retryAfter = config.RETRY_AFTER_SECONDS
  await fastify.register(underPressure, {
    maxEventLoopDelay: config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    // 0 means "just below V8's own limit", where the process would otherwise die.
    maxHeapUsedBytes: config.PRESSURE_MAX_HEAP_USED_BYTES > 0
      ? config.PRESSURE_MAX_HEAP_USED_BYTES
      : Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    sampleInterval: config.PRESSURE_SAMPLE_INTERVAL_MS,
    retryAfter,
    pressureHandler: (request, reply, type, value) => {
      request.log.warn({ pressure: type, value }, 'under pressure: answering 503')
      void reply.code(503).header('retry-after', String(retryAfter))
      // under-pressure sends a returned value as the answer (its types only say void).
      return { statusCode: 503, error: 'Service Unavailable', message: 'server busy, retry later' } as unknown as undefined
    }
  })
}, { name: 'pressure', dependencies: ['config'] })
