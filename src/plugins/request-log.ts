import fp from 'fastify-plugin'

/**
 * The "incoming request" line Fastify would write on arrival, written once the request has passed its
 * onRequest hooks (authentication): refused requests are logged by plugins/auth-failures.ts, once per
 * address per window. See ReceiverLogController in logger.ts.
 */
export default fp(async (fastify) => {
  fastify.addHook('preParsing', async (request, _reply, payload) => {
    request.log.info({ req: request }, 'incoming request')
    return payload
  })
}, { name: 'request-log' })
