import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one failed authentication from the request's address; true once the address has failed more
     * than AUTH_FAILURE_LIMIT times within AUTH_FAILURE_WINDOW_MS (the caller answers 429). Logs it the way
     * logAuthFailure does.
     */
    authFailureLimited: (request: FastifyRequest, reason: string) => Promise<{ limited: boolean, retryAfterSeconds: number }>
    /**
     * Logs a failed authentication at most once per client address per AUTH_FAILURE_WINDOW_MS, with how many
     * failures that address had since its previous line: a flood of wrong keys costs no disk.
     */
    logAuthFailure: (request: FastifyRequest, reason: string, limited?: boolean) => void
  }
}

/** Addresses whose last line is remembered; past this, new addresses are only counted (metrics). */
const MAX_TRACKED_ADDRESSES = 10_000

/**
 * Slows down key guessing. Only failures are counted, never successful requests: EventBridge sends up to
 * 300 requests/s from a few addresses, and none of them may ever be refused for being many.
 */
export default fp(async (fastify) => {
  const windowMs = fastify.config.AUTH_FAILURE_WINDOW_MS
  // global: false: no route is limited by itself; auth.ts asks only after a key was refused.
  await fastify.register(rateLimit, { global: false })
  const check = fastify.createRateLimit({ max: fastify.config.AUTH_FAILURE_LIMIT, timeWindow: windowMs })

  /** Per address: when its last line was written, and failures since then. */
  const lines = new Map<string, { at: number, failures: number }>()
  let overflowLoggedAt = -Infinity
  const forget = (now: number): void => {
    for (const [ip, line] of lines) if (now - line.at >= windowMs) lines.delete(ip)
  }

  const logAuthFailure = (request: FastifyRequest, reason: string, limited = false): void => {
    const now = Date.now()
    const line = lines.get(request.ip)
    if (line !== undefined && now - line.at < windowMs) {
      line.failures++
      return
    }
    if (line === undefined && lines.size >= MAX_TRACKED_ADDRESSES) forget(now)
    if (line === undefined && lines.size >= MAX_TRACKED_ADDRESSES) {
      if (now - overflowLoggedAt >= windowMs) {
        overflowLoggedAt = now
        request.log.warn({ addresses: lines.size }, 'rejected: API key, from too many addresses to log each; see receiver_requests_rejected_total')
      }
      return
    }
    const failures = (line?.failures ?? 0) + 1
    lines.set(request.ip, { at: now, failures: 0 })
    request.log.warn({ ip: request.ip, reason, failures, limited, windowMs },
      'rejected: authentication (one line per address per AUTH_FAILURE_WINDOW_MS; failures = since its previous line)')
  }

  fastify.decorate('logAuthFailure', logAuthFailure)
  fastify.decorate('authFailureLimited', async (request: FastifyRequest, reason: string) => {
    const result = await check(request)
    const limited = result.isAllowed ? false : result.isExceeded
    logAuthFailure(request, reason, limited)
    return { limited, retryAfterSeconds: result.isAllowed ? 0 : result.ttlInSeconds }
  })
}, { name: 'auth-failures', dependencies: ['config'] })
