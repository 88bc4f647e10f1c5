import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one failed authentication from the request's address; true once the address has failed more
     * than AUTH_FAILURE_LIMIT times within AUTH_FAILURE_WINDOW_MS (the caller answers 429).
     */
    authFailureLimited: (request: FastifyRequest) => Promise<{ limited: boolean, retryAfterSeconds: number }>
  }
}

/**
 * Slows down key guessing. Only failures are counted, never successful requests: EventBridge sends up to
 * 300 requests/s from a few addresses, and none of them may ever be refused for being many.
 */
export default fp(async (fastify) => {
  // global: false: no route is limited by itself; auth.ts asks only after a key was refused.
  await fastify.register(rateLimit, { global: false })
  const check = fastify.createRateLimit({
    max: fastify.config.AUTH_FAILURE_LIMIT,
    timeWindow: fastify.config.AUTH_FAILURE_WINDOW_MS
  })
  fastify.decorate('authFailureLimited', async (request: FastifyRequest) => {
    const result = await check(request)
    return { limited: result.isAllowed ? false : result.isExceeded, retryAfterSeconds: result.isAllowed ? 0 : result.ttlInSeconds }
  })
}, { name: 'auth-failures', dependencies: ['config'] })
