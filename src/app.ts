import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { loggerOptions } from './logger.js'
import configPlugin from './plugins/config.js'
import errorsPlugin from './plugins/errors.js'
import databasePlugin from './plugins/database.js'
import authPlugin from './plugins/auth.js'
import authFailuresPlugin from './plugins/auth-failures.js'
import metricsPlugin from './plugins/metrics.js'
import deadlinePlugin from './plugins/deadline.js'
import pressurePlugin from './plugins/pressure.js'
import docsPlugin from './plugins/docs.js'
import shutdownPlugin from './plugins/shutdown.js'
import reconcilePlugin from './plugins/reconcile.js'
import feedPlugin from './plugins/feed.js'
import healthRoutes from './routes/health.js'
import metricsRoute from './routes/metrics.js'
import docsRoutes from './routes/docs.js'
import eventsRoute from './routes/events.js'
import readRoutes from './routes/reads.js'
import reconcileRoutes from './routes/reconcile.js'
import changesRoute from './routes/changes.js'

export interface AppOptions {
  config: Config
}

/** Fastify server options for this app; `logStream` lets tests capture the logs. */
export function serverOptions (config: Config, logStream?: NodeJS.WritableStream): FastifyServerOptions {
  return {
    logger: loggerOptions(config, logStream),
    // EventBridge sends `Connection: close`; nothing here depends on keep-alive. 'idle', not true: true
    // destroys in-flight requests on close, and graceful shutdown must let them finish and answer.
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false } }
  }
}

/** The whole receiver as one plugin: server.ts listens with it, tests inject into it. */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config })
  await fastify.register(errorsPlugin)
  await fastify.register(databasePlugin)
  await fastify.register(authFailuresPlugin)
  await fastify.register(authPlugin)
  await fastify.register(metricsPlugin)
  await fastify.register(deadlinePlugin)
  await fastify.register(pressurePlugin)
  await fastify.register(docsPlugin)
  await fastify.register(shutdownPlugin)
  await fastify.register(reconcilePlugin)
  await fastify.register(feedPlugin)

  // Operations, without the API key: probes, metrics (own token), the OpenAPI description.
  await fastify.register(healthRoutes)
  await fastify.register(metricsRoute)
  await fastify.register(docsRoutes)

  // Everything registered in here requires the API key.
  await fastify.register(async (api) => {
    // JSON only: anything else is 415 (Fastify would otherwise parse text/plain too).
    api.removeContentTypeParser('text/plain')
    api.addHook('onRequest', api.verifyApiKey)
    await api.register(eventsRoute)
    await api.register(readRoutes)
    await api.register(reconcileRoutes)
    await api.register(changesRoute)
  })
}
