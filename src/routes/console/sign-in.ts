import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CsrfBody, SignInBody } from '../../schemas/console.js'
import { SESSION_COOKIE } from '../../console/setup.js'
import { SignInLockout } from '../../console/lockout.js'
import { CSRF_REFUSED } from '../../console/sessions.js'

/** Sign-in (password → session cookie) and sign-out (CSRF-checked; the session row is deleted). */
const signInRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auth } = fastify.console
  const lockout = new SignInLockout()
  const cookieOptions = { path: '/console', httpOnly: true, sameSite: 'strict', secure: fastify.config.CONSOLE_SECURE_COOKIE } as const

  fastify.get('/sign-in', async (_request, reply) => await reply.page('sign-in', { title: 'Sign in' }))

  fastify.post('/sign-in', { schema: { body: SignInBody } }, async (request, reply) => {
    const locked = lockout.retryAfterSeconds(request.ip)
    if (locked === 0 && auth.passwordMatches(request.body.password)) {
      const { token, expiresAt } = await auth.signIn()
      request.log.info('console: signed in')
      return await reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions, signed: true, expires: expiresAt }).redirect('/console/', 303)
    }
    if (locked > 0) {
      fastify.logAuthFailure(request, 'console sign-in while over the failure limit', true)
      return await reply.code(429).header('retry-after', String(locked))
        .page('sign-in', { title: 'Sign in', error: `Too many failed sign-ins from this address; try again in ${locked} s.` })
    }
    const { limited, retryAfterSeconds } = await fastify.authFailureLimited(request, 'console password invalid')
    if (limited) {
      lockout.lock(request.ip, retryAfterSeconds * 1000)
      return await reply.code(429).header('retry-after', String(retryAfterSeconds))
        .page('sign-in', { title: 'Sign in', error: `Too many failed sign-ins from this address; try again in ${retryAfterSeconds} s.` })
    }
    return await reply.code(401).page('sign-in', { title: 'Sign in', error: 'Wrong password.' })
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
