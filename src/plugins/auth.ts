import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: 401 unless the API-key header holds one of the configured keys. */
    verifyApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>
  }
}

// Hashing both sides gives equal-length buffers, so the comparison time says nothing about the key.
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

export default fp(async (fastify) => {
  const header = fastify.config.API_KEY_HEADER.toLowerCase()
  const accepted = fastify.config.API_KEYS.map(digest)

  const isAccepted = (presented: unknown): boolean => {
    if (typeof presented !== 'string' || presented === '') return false
    const candidate = digest(presented)
    // Check every key, without stopping at the first match.
    return accepted.reduce((found, key) => timingSafeEqual(candidate, key) || found, false)
  }

  fastify.decorate('verifyApiKey', async (request: FastifyRequest, reply: FastifyReply) => {
    if (isAccepted(request.headers[header])) return undefined
    const reason = request.headers[header] === undefined ? 'API key missing' : 'API key invalid'
    const { limited, retryAfterSeconds } = await fastify.authFailureLimited(request, reason)
    if (limited) {
      return await reply.code(429).header('retry-after', String(retryAfterSeconds))
        .send({ statusCode: 429, error: 'Too Many Requests', message: 'too many failed authentication attempts, retry later' })
    }
    return await reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: `missing or invalid API key in header ${header}` })
  })
}, { name: 'auth', dependencies: ['config', 'auth-failures'] })
