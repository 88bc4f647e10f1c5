import fp from 'fastify-plugin'

/**
 * Graceful close, with server.ts's close-with-grace: Fastify stops accepting and answers new requests 503
 * while in-flight ones finish. Their answers carry `Connection: close`, or a keep-alive client (a load
 * balancer) would hold its idle connection, and the close, open until SHUTDOWN_TIMEOUT_MS.
 */
export default fp(async (fastify) => {
  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close')
  })
}, { name: 'shutdown' })
