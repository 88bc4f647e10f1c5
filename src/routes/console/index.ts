import type { FastifyError, FastifyPluginAsync } from 'fastify'
import setup from '../../console/setup.js'
import signInRoutes from './sign-in.js'
import overviewRoute from './overview.js'
import eventRoutes from './events.js'
import quarantineRoutes from './quarantine.js'
import entityRoutes from './entities.js'

/**
 * The operator console (issue 15), registered under /console only when CONSOLE_PASSWORD is set. It is not
 * part of the event API: the API key opens nothing here, and only a signed-in session does.
 */
const consoleRoutes: FastifyPluginAsync = async (fastify) => {
  // Not in the OpenAPI description of the API (/docs).
  fastify.addHook('onRoute', route => { route.schema = { ...route.schema, hide: true } })
  await fastify.register(setup)

  fastify.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'console: unexpected error')
    else request.log.info({ code: error.code, reason: error.message }, 'console: bad request')
    // A 5xx says nothing of its cause on the page: the log has it.
    return await reply.code(status).page('error', { title: `${status}`, message: status >= 500 ? 'Something went wrong; the log says what.' : error.message })
  })
  fastify.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).page('error', { title: 'Not found', message: `Nothing at ${request.url}.` })
  })

  await fastify.register(signInRoutes)
  await fastify.register(async (pages) => {
    pages.addHook('onRequest', pages.requireConsoleSession)
    pages.addHook('preHandler', async (request, reply) => request.method === 'GET' ? await pages.limitRead(request, reply) : undefined)
    await pages.register(overviewRoute)
    await pages.register(eventRoutes)
    await pages.register(quarantineRoutes)
    await pages.register(entityRoutes)
  })
}

export default consoleRoutes
