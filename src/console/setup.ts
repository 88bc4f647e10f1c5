import { fileURLToPath } from 'node:url'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import view from '@fastify/view'
import { Eta } from 'eta'
import { ConsoleSessions } from '../db/console/console-sessions.js'
import { ConsoleReads } from '../db/console/console-reads.js'
import { ConsoleQuarantine } from '../db/console/console-quarantine.js'
import { ConsoleAuth } from './sessions.js'
import { helpers } from './format.js'
import { VERSION } from './version.js'

// Everything the console's pages share, registered inside the console's own scope (prefix /console), so
// that none of it touches the event API: HTML views (eta through @fastify/view), the stylesheet
// (@fastify/static), form bodies, the signed session cookie, security headers with a strict CSP
// (@fastify/helmet), and the session check every page but sign-in passes.

declare module 'fastify' {
  interface FastifyInstance {
    console: { auth: ConsoleAuth, reads: ConsoleReads, quarantine: ConsoleQuarantine }
    /** onRequest hook: a page needs a live session; GET goes to the sign-in form, anything else is 401. */
    requireConsoleSession: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>
  }
  interface FastifyReply {
    /** Sends view `name` (inside the layout) with `data`, the session's CSRF token and the version running. */
    page: (name: string, data?: Record<string, unknown>) => Promise<FastifyReply>
  }
  interface FastifyRequest {
    /** The session token of a signed-in request (from its signed cookie); never logged or shown. */
    consoleToken?: string
  }
}

/** Where the views and the stylesheet live: beside this file's source, also when run from dist/. */
const here = (path: string): string => fileURLToPath(new URL(`../../src/console/${path}`, import.meta.url))
export const VIEWS_DIR = here('views')
export const ASSETS_DIR = here('assets')

export const SESSION_COOKIE = 'receiver_console'

export default fp(async (fastify) => {
  const { config, repository } = fastify
  const auth = new ConsoleAuth(config.CONSOLE_PASSWORD, new ConsoleSessions(repository), config.CONSOLE_SESSION_TTL)
  fastify.decorate('console', { auth, reads: new ConsoleReads(repository), quarantine: new ConsoleQuarantine(repository) })

  await fastify.register(cookie, { secret: auth.cookieSecret, hook: 'onRequest' })
  await fastify.register(formbody, { bodyLimit: 16 * 1024 })
  await fastify.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        scriptSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"]
      }
    },
    // No cross-origin resources at all: nothing to embed, nothing to isolate from.
    crossOriginEmbedderPolicy: true,
    strictTransportSecurity: config.CONSOLE_SECURE_COOKIE,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' }
  })
  fastify.addHook('onRequest', async (_request, reply) => {
    // Pages carry the data of tenants and users: no cache keeps them.
    reply.header('cache-control', 'no-store')
  })
  await fastify.register(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', decorateReply: false, index: false, list: false })
  await fastify.register(view, {
    engine: { eta: new Eta({ autoEscape: true, autoTrim: [false, 'nl'] }) },
    root: VIEWS_DIR,
    viewExt: 'eta',
    defaultContext: { h: helpers }
  })

  fastify.decorateReply('page', async function (this: FastifyReply, name: string, data: Record<string, unknown> = {}) {
    const token = this.request.consoleToken
    const html = await this.viewAsync(name, { ...data, csrf: token === undefined ? null : auth.csrfToken(token), version: VERSION })
    return await this.type('text/html; charset=utf-8').send(html)
  })

  fastify.decorate('requireConsoleSession', async (request: FastifyRequest, reply: FastifyReply) => {
    const signed = request.cookies[SESSION_COOKIE]
    const unsigned = signed === undefined ? undefined : request.unsignCookie(signed)
    if (unsigned?.valid === true && unsigned.value !== null && await auth.isSignedIn(unsigned.value)) {
      request.consoleToken = unsigned.value
      return undefined
    }
    if (request.method === 'GET' || request.method === 'HEAD') return await reply.redirect('/console/sign-in', 303)
    return await reply.code(401).type('text/plain; charset=utf-8').send('not signed in to the console')
  })
}, { name: 'console-setup', dependencies: ['config', 'database'] })
