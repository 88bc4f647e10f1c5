import fp from 'fastify-plugin'

/**
 * An answer not taken by the client within REPLY_TIMEOUT_MS of being sent (a client that does not read)
 * has its connection closed: what the answer holds in memory is freed, and a read slot (read-limit.ts)
 * given back (issue 25). A long poll's wait comes before its answer is sent and does not count.
 */
export default fp(async (fastify) => {
  const ms = fastify.config.REPLY_TIMEOUT_MS
  fastify.addHook('onSend', async (request, reply) => {
    const res = reply.raw
    const timer = setTimeout(() => {
      request.log.warn({ ms }, 'answer not read by the client in time: connection closed')
      res.destroy()
    }, ms)
    const done = (): void => { clearTimeout(timer) }
    res.once('finish', done)
    res.once('close', done)
  })
}, { name: 'reply-timeout', dependencies: ['config'] })
