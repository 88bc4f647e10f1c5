import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { CsrfBody, SignInBody } from '../../schemas/console.js'
import { SESSION_COOKIE } from '../../console/setup.js'
import { SignInThrottle, type SignInSource } from '../../console/sign-in-throttle.js'
import { CSRF_REFUSED } from '../../console/sessions.js'

/** A browser that signed in before: a random id in a signed cookie, sent only to the sign-in form. */
export const DEVICE_COOKIE = 'receiver_console_device'
const DEVICE_ID = /^[A-Za-z0-9_-]{43}$/
const DEVICE_TTL_MS = 365 * 86_400_000

/**
 * Sign-in (password → session cookie) and sign-out (CSRF-checked; the session row is deleted). Failed
 * sign-ins are slowed, never locked (console/sign-in-throttle.ts), and counted apart from the API's wrong keys.
 */
const signInRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auth } = fastify.console
  const { AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, CONSOLE_SIGN_IN_MAX_DELAY_MS, CONSOLE_SECURE_COOKIE } = fastify.config
  const throttle = new SignInThrottle({ perSource: AUTH_FAILURE_LIMIT, windowMs: AUTH_FAILURE_WINDOW_MS, maxDelayMs: CONSOLE_SIGN_IN_MAX_DELAY_MS })
  const cookieOptions = { path: '/console', httpOnly: true, sameSite: 'strict', secure: CONSOLE_SECURE_COOKIE } as const
  const deviceOptions = { ...cookieOptions, path: '/console/sign-in', signed: true } as const

  /** The attempt's source: the browser's device id when it carries a valid one, else its address. */
  const sourceOf = (request: FastifyRequest): SignInSource => {
    const signed = request.cookies[DEVICE_COOKIE]
    const unsigned = signed === undefined ? undefined : request.unsignCookie(signed)
    return unsigned?.valid === true && DEVICE_ID.test(unsigned.value) ? { device: unsigned.value } : { address: request.ip }
  }

  fastify.get('/sign-in', async (_request, reply) => await reply.page('sign-in', { title: 'Sign in' }))

  fastify.post('/sign-in', { schema: { body: SignInBody } }, async (request, reply) => {
    const source = sourceOf(request)
    const admission = throttle.enter(source)
    if ('busySeconds' in admission) {
      fastify.logAuthFailure(request, 'console sign-in while another from the same source is being checked', true)
      return await reply.code(429).header('retry-after', String(admission.busySeconds))
        .page('sign-in', { title: 'Sign in', error: `Another sign-in from this browser or address is being checked; try again in ${admission.busySeconds} s.` })
    }
    let right = false
    try {
      // The wait comes before the check and depends only on failures already counted: a right and a wrong
      // guess take the same time.
      if (admission.waitMs > 0) await sleep(admission.waitMs)
      right = auth.passwordMatches(request.body.password)
    } finally {
      admission.done(!right)
    }
    if (!right) {
      fastify.logAuthFailure(request, 'console password invalid', admission.waitMs > 0)
      return await reply.code(401).page('sign-in', { title: 'Sign in', error: 'Wrong password.' })
    }
    const { token, expiresAt } = await auth.signIn()
    const device = 'device' in source ? source.device : randomBytes(32).toString('base64url')
    request.log.info('console: signed in')
    return await reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions, signed: true, expires: expiresAt })
      .setCookie(DEVICE_COOKIE, device, { ...deviceOptions, expires: new Date(Date.now() + DEVICE_TTL_MS) })
      .redirect('/console/', 303)
  })

  fastify.post('/sign-out', { schema: { body: CsrfBody }, onRequest: fastify.requireConsoleSession }, async (request, reply) => {
    const token = request.consoleToken!
    if (!auth.csrfValid(token, request.body.csrf)) return await reply.code(403).page('error', CSRF_REFUSED)
    await auth.signOut(token)
    request.log.info('console: signed out')
    return await reply.clearCookie(SESSION_COOKIE, cookieOptions).redirect('/console/sign-in', 303)
  })
}

export default signInRoutes
