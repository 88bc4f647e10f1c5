import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { loggerOptions } from './logger.js'
import configPlugin from './plugins/config.js'
import errorsPlugin from './plugins/errors.js'
import databasePlugin from './plugins/database.js'
import authPlugin from './plugins/auth.js'
import eventsRoute from './routes/events.js'
import readRoutes from './routes/reads.js'

export interface AppOptions {
  config: Config
}

/** Fastify server options for this app; `logStream` lets tests capture the logs. */
export function serverOptions (config: Config, logStream?: NodeJS.WritableStream): FastifyServerOptions {
  return {
    logger: loggerOptions(config, logStream),
    // EventBridge sends `Connection: close`; nothing here depends on keep-alive.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } }
  }
}

/** The whole receiver as one plugin: server.ts listens with it, tests inject into it. */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config })
  await fastify.register(errorsPlugin)
  await fastify.register(databasePlugin)
  await fastify.register(authPlugin)

  // Everything registered in here requires the API key.
  await fastify.register(async (api) => {
    // JSON only: anything else is 415 (Fastify would otherwise parse text/plain too).
    api.removeContentTypeParser('text/plain')
    api.addHook('onRequest', api.verifyApiKey)
    await api.register(eventsRoute)
    await api.register(readRoutes)
  })
}
