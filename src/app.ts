import type { Server } from 'node:http'
import type { FastifyHttpOptions, FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { ReceiverLogController, loggerOptions } from './logger.js'
import { MAX_ID_LENGTH } from './schemas/ids.js'
import { paramKeywords } from './schemas/params.js'
import configPlugin from './plugins/config.js'
import clockPlugin from './plugins/clock.js'
import errorsPlugin from './plugins/errors.js'
import databasePlugin from './plugins/database.js'
import authPlugin from './plugins/auth.js'
import authFailuresPlugin from './plugins/auth-failures.js'
import metricsPlugin from './plugins/metrics.js'
import deadlinePlugin from './plugins/deadline.js'
import pressurePlugin from './plugins/pressure.js'
import readLimitPlugin from './plugins/read-limit.js'
import replyTimeoutPlugin from './plugins/reply-timeout.js'
import docsPlugin from './plugins/docs.js'
import shutdownPlugin from './plugins/shutdown.js'
import jsonBodyPlugin from './plugins/json-body.js'
import requestLogPlugin from './plugins/request-log.js'
import reconcilePlugin from './plugins/reconcile.js'
import feedPlugin from './plugins/feed.js'
import plansPlugin from './plugins/plans.js'
import healthRoutes from './routes/health.js'
import metricsRoute from './routes/metrics.js'
import docsRoutes from './routes/docs.js'
import eventsRoute from './routes/events.js'
import readRoutes from './routes/reads.js'
import reconcileRoutes from './routes/reconcile.js'
import changesRoute from './routes/changes.js'
import consoleRoutes from './routes/console/index.js'

export interface AppOptions {
  config: Config
  /** The clock plans are read and activated at (Unix ms); Date.now unless a test gives its own. */
  now?: () => number
}

/** Fastify server options for this app; `logStream` lets tests capture the logs. */
export function serverOptions (config: Config, logStream?: NodeJS.WritableStream): FastifyHttpOptions<Server> {
  return {
    logger: loggerOptions(config, logStream),
    logController: new ReceiverLogController(),
    // EventBridge sends `Connection: close`; nothing here depends on keep-alive. 'idle', not true: true
    // destroys in-flight requests on close, and graceful shutdown must let them finish and answer.
    forceCloseConnections: 'idle',
    // A request (headers and body) not received in full within REQUEST_TIMEOUT_MS gets 408 and its connection
    // is closed: a stalled body holds no socket or memory for long. Node checks open connections every
    // second, so the cut comes at most a second late.
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: { connectionsCheckingInterval: 1000, headersTimeout: Math.min(60_000, config.REQUEST_TIMEOUT_MS) },
    // paramKeywords: numbers finite and text without U+0000 (schemas/params.ts).
    ajv: { customOptions: { removeAdditional: false }, plugins: [paramKeywords] },
    // An id of MAX_ID_LENGTH characters, each percent-encoded as up to 9 characters, is still routed, so
    // that its length is checked by the route's schema (400 in the one error shape), not by the router (414).
    routerOptions: { maxParamLength: MAX_ID_LENGTH * 9 }
  }
}

/** The whole receiver as one plugin: server.ts listens with it, tests inject into it. */
export default async function app (fastify: FastifyInstance, { config, now }: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config })
  await fastify.register(clockPlugin, { now })
  await fastify.register(requestLogPlugin)
  await fastify.register(errorsPlugin)
  await fastify.register(databasePlugin)
  await fastify.register(authFailuresPlugin)
  await fastify.register(authPlugin)
  await fastify.register(metricsPlugin)
  await fastify.register(deadlinePlugin)
  await fastify.register(pressurePlugin)
  await fastify.register(readLimitPlugin)
  await fastify.register(replyTimeoutPlugin)
  await fastify.register(docsPlugin)
  await fastify.register(shutdownPlugin)
  await fastify.register(reconcilePlugin)
  await fastify.register(feedPlugin)
  await fastify.register(plansPlugin)

  // Operations, without the API key: probes, metrics (own token), the OpenAPI description.
  await fastify.register(healthRoutes)
  await fastify.register(metricsRoute)
  await fastify.register(docsRoutes)

  // Everything registered in here requires the API key.
  await fastify.register(async (api) => {
    api.addHook('onRequest', api.verifyApiKey)
    // Reads wait for a slot (plugins/read-limit.ts); intake never does.
    api.addHook('preHandler', async (request, reply) => request.method === 'GET' ? await api.limitRead(request, reply) : undefined)
    // JSON only, UTF-8 only, uncompressed only: anything else is 415 (see plugins/json-body.ts).
    await api.register(jsonBodyPlugin)
    await api.register(eventsRoute)
    await api.register(readRoutes)
    await api.register(reconcileRoutes)
    await api.register(changesRoute)
  })

  // The operator console, for people in a browser: its own sign-in, never the API key. Off without a password.
  if (config.CONSOLE_PASSWORD !== '') await fastify.register(consoleRoutes, { prefix: '/console' })
}
