import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ReadGate } from '../reads/read-gate.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler of the routes that read pages: waits for a read slot (READ_CONCURRENCY), or answers 503. */
    limitRead: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>
    /** A read slot for this request, held until its answer is done: true, or false with 503 answered. */
    acquireRead: (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>
    readGate: ReadGate
  }
  interface FastifyContextConfig {
    /** The route takes its read slot itself (acquireRead), only when it reads: GET /changes. */
    ownReadSlot?: boolean
  }
}

/**
 * Heavy reads, limited (src/reads/read-gate.ts): READ_CONCURRENCY at once, READ_QUEUE_MAX more waiting at
 * most REQUEST_DEADLINE_MS each; beyond that 503 with Retry-After. Intake (POST /events), /healthz, /readyz
 * and /metrics never wait here. The slot is held until the answer is sent or the connection closes, so that
 * answers not yet read (cut off after REPLY_TIMEOUT_MS) count too: memory stays bounded by
 * READ_CONCURRENCY × PAGE_MAX_BYTES. GET /changes takes its slot only for a read of the database: a long poll
 * at the head, and its answer from a page shared by every waiter, need none (2,000 of them arrive at once).
 */
export default fp(async (fastify) => {
  const { READ_CONCURRENCY, READ_QUEUE_MAX, REQUEST_DEADLINE_MS } = fastify.config
  const gate = new ReadGate(READ_CONCURRENCY, READ_QUEUE_MAX, REQUEST_DEADLINE_MS)
  fastify.decorate('readGate', gate)
  const acquireRead = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const release = await gate.acquire()
    if (release === undefined) {
      request.log.warn({ running: gate.running, queued: gate.queued }, 'too many reads at once: answering 503')
      await reply.retryLater('too many reads at once, retry later')
      return false
    }
    reply.raw.once('close', release)
    return true
  }
  fastify.decorate('acquireRead', acquireRead)
  fastify.decorate('limitRead', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config.ownReadSlot === true) return undefined
    return await acquireRead(request, reply) ? undefined : reply
  })
}, { name: 'read-limit', dependencies: ['config', 'errors'] })
