import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { isTransientDatabaseError } from '../db/engines/transient.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Answers 503 with Retry-After (RETRY_AFTER_SECONDS) and `message`: the service is busy, not broken. */
    retryLater: (message: string) => FastifyReply
  }
}

/**
 * One JSON error shape for every failure. Client mistakes keep their 4xx; a database that is unavailable,
 * locked or too slow answers 503 with Retry-After, which EventBridge retries; anything else is a 500.
 */
export default fp(async (fastify) => {
  const retryAfter = String(fastify.config.RETRY_AFTER_SECONDS)
  fastify.decorateReply('retryLater', function (this: FastifyReply, message: string) {
    return this.code(503).header('retry-after', retryAfter).send({ statusCode: 503, error: 'Service Unavailable', message })
  })

  fastify.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      request.log.info({ code: error.code, reason: error.message }, 'rejected: bad request')
      return await reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: error.message })
    }
    // 503 as well when the deadline (plugins/deadline.ts) passes first.
    if (status === 503 || isTransientDatabaseError(error)) {
      request.log.warn({ err: error }, 'database unavailable: answering 503')
      return await reply.retryLater('database unavailable, retry later')
    }
    request.log.error({ err: error }, 'unexpected error')
    return await reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'unexpected error' })
  })

  fastify.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${request.url}` })
  })
}, { name: 'errors', dependencies: ['config'] })
