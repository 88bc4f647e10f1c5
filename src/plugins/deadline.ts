import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Resolves as `work` does, unless REQUEST_DEADLINE_MS (counted from the request's arrival) passes
     * first: then it rejects with a 503 error, so that the sender hears back before its own time-out.
     */
    withinDeadline: <T>(reply: FastifyReply, work: Promise<T>) => Promise<T>
  }
}

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError'
  readonly statusCode = 503
  readonly code = 'RECEIVER_DEADLINE_EXCEEDED'
}

/**
 * EventBridge gives up after 5 s and sends the event again; an answer after that is wasted. Racing the
 * database against a timer turns "too slow" into a 503 that EventBridge retries honouring Retry-After.
 * The transaction is not cancelled: if it still commits, the retry is answered `duplicate`.
 */
export default fp(async (fastify) => {
  const deadlineMs = fastify.config.REQUEST_DEADLINE_MS

  fastify.decorate('withinDeadline', async <T>(reply: FastifyReply, work: Promise<T>): Promise<T> => {
    const remaining = Math.max(0, deadlineMs - reply.elapsedTime)
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new DeadlineExceededError(`no answer from the database within ${deadlineMs} ms`))
        work.then(
          () => { reply.log.warn('the transaction committed after its 503: the retry will be a duplicate') },
          () => {}
        )
      }, remaining)
    })
    try {
      return await Promise.race([work, expired])
    } finally {
      clearTimeout(timer)
    }
  })
}, { name: 'deadline', dependencies: ['config'] })
