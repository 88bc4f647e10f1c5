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

/**
 * Log lines of failed authentication, at most one per client address per window: each line carries the
 * failures of that address since its previous line. At most `maxTracked` addresses are remembered; past
 * that, failures from new addresses are only counted (metrics), with one line per window saying so.
 */
export class FailureLog {
  readonly #lines = new Map<string, { at: number, failures: number }>()
  #overflowLoggedAt = -Infinity

  constructor (readonly windowMs: number, readonly maxTracked = 10_000) {}

  note (request: Pick<FastifyRequest, 'ip' | 'log'>, reason: string, limited: boolean, now = Date.now()): void {
    const line = this.#lines.get(request.ip)
    if (line !== undefined && now - line.at < this.windowMs) {
      line.failures++
      return
    }
    if (line === undefined && this.#lines.size >= this.maxTracked) {
      for (const [ip, old] of this.#lines) if (now - old.at >= this.windowMs) this.#lines.delete(ip)
      if (this.#lines.size >= this.maxTracked) {
        if (now - this.#overflowLoggedAt >= this.windowMs) {
          this.#overflowLoggedAt = now
          request.log.warn({ addresses: this.#lines.size }, 'rejected: authentication, from too many addresses to log each; see receiver_requests_rejected_total')
        }
        return
      }
    }
    const failures = (line?.failures ?? 0) + 1
    this.#lines.set(request.ip, { at: now, failures: 0 })
    request.log.warn({ ip: request.ip, reason, failures, limited, windowMs: this.windowMs },
      'rejected: authentication (one line per address per AUTH_FAILURE_WINDOW_MS; failures = since its previous line)')
  }
}

/**
 * Slows down key guessing. Only failures are counted, never successful requests: EventBridge sends up to
 * 300 requests/s from a few addresses, and none of them may ever be refused for being many.
 */
export default fp(async (fastify) => {
  const windowMs = fastify.config.AUTH_FAILURE_WINDOW_MS
  // global: false: no route is limited by itself; auth.ts asks only after a key was refused.
  await fastify.register(rateLimit, { global: false })
  const check = fastify.createRateLimit({ max: fastify.config.AUTH_FAILURE_LIMIT, timeWindow: windowMs })

  const failureLog = new FailureLog(windowMs)
  const logAuthFailure = (request: FastifyRequest, reason: string, limited = false): void => { failureLog.note(request, reason, limited) }

  fastify.decorate('logAuthFailure', logAuthFailure)
  fastify.decorate('authFailureLimited', async (request: FastifyRequest, reason: string) => {
    const result = await check(request)
    const limited = result.isAllowed ? false : result.isExceeded
    logAuthFailure(request, reason, limited)
    return { limited, retryAfterSeconds: result.isAllowed ? 0 : result.ttlInSeconds }
  })
}, { name: 'auth-failures', dependencies: ['config'] })
