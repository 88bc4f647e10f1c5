import t from 'tap'
import { createHash } from 'node:crypto'
import { API_KEY, buildApp } from '../helpers/app.js'
import { CONSOLE_PASSWORD, FORM, csrfOf, page, postForm, signIn } from '../helpers/console.js'
import { loadConfig } from '../../src/config.js'
import { MAX_WAITING_UNKNOWN, SignInThrottle, type SignInSource } from '../../src/console/sign-in-throttle.js'
import type { FastifyInstance } from 'fastify'

// The console's protection (issue 15): off without a password, sign-in to a server-side session, the
// cookie's attributes, expiry, sign-out that revokes, CSRF, failed sign-ins slowed but never locked, the API key
// refused, security headers and a strict CSP.

const env = { CONSOLE_PASSWORD }

t.test('off unless CONSOLE_PASSWORD is set; a short password is refused at start', async t => {
  const { app } = await buildApp(t)
  for (const url of ['/console/', '/console/sign-in', '/console/assets/console.css']) {
    t.equal((await app.inject({ url })).statusCode, 404, `${url}: no console`)
  }
  t.throws(() => loadConfig({ CONSOLE_PASSWORD: 'short-password' }), { name: 'ConfigError', message: /CONSOLE_PASSWORD: shorter than 16 characters/ })
  t.equal(loadConfig({ CONSOLE_PASSWORD }).CONSOLE_SESSION_TTL, 8 * 3_600_000, 'sessions last 8 h by default')
  t.throws(() => loadConfig({ CONSOLE_PASSWORD, CONSOLE_SESSION_TTL: 'off' }), { name: 'ConfigError' }, 'a session cannot last for ever')
})

t.test('sign-in: pages need a session; a wrong password is 401; the right one sets a signed, HttpOnly, SameSite=Strict cookie', async t => {
  const { app, logs } = await buildApp(t, env)
  const anonymous = await app.inject({ url: '/console/events' })
  t.equal(anonymous.statusCode, 303)
  t.equal(anonymous.headers.location, '/console/sign-in')
  const form = await app.inject({ url: '/console/sign-in' })
  t.equal(form.statusCode, 200)
  t.match(form.body, /<form method="post" action="\/console\/sign-in"/)
  t.match(form.body, /type="password"/)

  const wrong = await postForm(app, '/console/sign-in', { password: 'not-the-password-at-all' })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.body, /role="alert">Wrong password\./)
  t.equal(wrong.headers['set-cookie'], undefined)

  const right = await postForm(app, '/console/sign-in', { password: CONSOLE_PASSWORD })
  t.equal(right.statusCode, 303)
  t.equal(right.headers.location, '/console/')
  const setCookie = ([right.headers['set-cookie']].flat() as string[]).find(c => c.startsWith('receiver_console='))!
  t.match(setCookie, /^receiver_console=[A-Za-z0-9_-]{43}\.[^;]+; Path=\/console; Expires=[^;]+; HttpOnly; SameSite=Strict$/, 'signed, HttpOnly, SameSite=Strict, not Secure without CONSOLE_SECURE_COOKIE')
  const expires = new Date(/Expires=([^;]+)/.exec(setCookie)![1]).getTime()
  t.ok(Math.abs(expires - (Date.now() + 8 * 3_600_000)) < 5000, 'expires after CONSOLE_SESSION_TTL')

  const cookie = setCookie.split(';')[0]
  const token = cookie.slice('receiver_console='.length).split('.')[0]
  const rows = await app.repository.prisma.consoleSession.findMany()
  t.same(rows.map(r => r.id), [createHash('sha256').update(token).digest('hex')], 'the database keeps only the token\'s hash')
  const overview = await page(app, '/console/', cookie)
  t.equal(overview.statusCode, 200)
  t.equal((await page(app, '/console', cookie)).statusCode, 200, '/console without the slash too')
  t.match(overview.body, /<h1>Overview<\/h1>/)

  t.notMatch(logs(), CONSOLE_PASSWORD, 'the password is never logged')
  t.notMatch(logs(), token, 'nor the session token')
  t.notMatch(logs(), 'not-the-password-at-all', 'nor a wrong password')
  t.match(logs(), /"reason":"console password invalid"/, 'a failed sign-in is logged as a failed authentication')
  t.notMatch(overview.body, API_KEY, 'the API key never appears in a page')
})

t.test('CONSOLE_SECURE_COOKIE=true: the cookie is Secure, and HSTS is sent', async t => {
  const { app } = await buildApp(t, { ...env, CONSOLE_SECURE_COOKIE: 'true' })
  const res = await postForm(app, '/console/sign-in', { password: CONSOLE_PASSWORD })
  t.match(String(res.headers['set-cookie']), /; Secure/)
  t.match(res.headers['strict-transport-security'], /max-age=/)
})

t.test('the API key opens nothing in the console; a forged or tampered cookie neither', async t => {
  const { app } = await buildApp(t, env)
  const withKey = await app.inject({ url: '/console/', headers: { 'x-api-key': API_KEY } })
  t.equal(withKey.statusCode, 303, 'the API key is not a session')
  t.equal(withKey.headers.location, '/console/sign-in')
  const replay = await app.inject({ method: 'POST', url: '/console/quarantine/1/replay', headers: { 'x-api-key': API_KEY } })
  t.equal(replay.statusCode, 401, 'nor does it allow a form')
  const cookie = await signIn(app)
  const tampered = cookie.replace(/=(.)/, (_m, c: string) => `=${c === 'A' ? 'B' : 'A'}`)
  t.equal((await page(app, '/console/', tampered)).statusCode, 303, 'a tampered signature is refused')
  t.equal((await page(app, '/console/', 'receiver_console=unsigned-token')).statusCode, 303, 'an unsigned cookie is refused')
  // A validly signed cookie whose session does not exist (or was deleted).
  await app.repository.prisma.consoleSession.deleteMany()
  t.equal((await page(app, '/console/', cookie)).statusCode, 303, 'a session the database does not hold is refused')
})

t.test('a session expires after CONSOLE_SESSION_TTL', async t => {
  const { app } = await buildApp(t, { ...env, CONSOLE_SESSION_TTL: '1h' })
  const cookie = await signIn(app)
  t.equal((await page(app, '/console/', cookie)).statusCode, 200)
  await app.repository.prisma.consoleSession.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } })
  t.equal((await page(app, '/console/', cookie)).statusCode, 303, 'expired: back to sign-in')
  await signIn(app)
  t.equal(await app.repository.prisma.consoleSession.count(), 1, 'expired sessions are pruned at the next sign-in')
})

t.test('sign-out needs the CSRF token, then revokes the session for good', async t => {
  const { app } = await buildApp(t, env)
  const cookie = await signIn(app)
  const other = await signIn(app)
  const csrf = csrfOf((await page(app, '/console/', cookie)).body)
  t.equal((await postForm(app, '/console/sign-out', {}, cookie)).statusCode, 403, 'no token: refused')
  t.equal((await postForm(app, '/console/sign-out', { csrf: 'forged' }, cookie)).statusCode, 403, 'a wrong token: refused')
  t.equal((await postForm(app, '/console/sign-out', { csrf: csrfOf((await page(app, '/console/', other)).body) }, cookie)).statusCode, 403,
    'another session\'s token: refused')
  t.equal((await page(app, '/console/', cookie)).statusCode, 200, 'still signed in after the refusals')
  const out = await postForm(app, '/console/sign-out', { csrf }, cookie)
  t.equal(out.statusCode, 303)
  t.equal(out.headers.location, '/console/sign-in')
  t.match(String(out.headers['set-cookie']), /^receiver_console=; Max-Age=0; Path=\/console; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict$/)
  t.equal((await page(app, '/console/', cookie)).statusCode, 303, 'the old cookie no longer signs in: the session is gone')
  t.equal((await page(app, '/console/', other)).statusCode, 200, 'other sessions stay')
  t.equal((await postForm(app, '/console/sign-out', { csrf }, cookie)).statusCode, 401, 'signing out again: not signed in')
})

t.test('SignInThrottle: a growing wait per source, a budget for all addresses, one attempt at a time; never a lock', async t => {
  let now = 0
  const throttle = new SignInThrottle({ perSource: 2, windowMs: 60_000, maxDelayMs: 1000 }, 10_000, () => now)
  const fail = (source: SignInSource): number => {
    const admission = throttle.enter(source)
    if ('busySeconds' in admission) throw new Error('busy')
    admission.done(true)
    admission.done(false) // a second call changes nothing
    return admission.waitMs
  }
  const a = { address: 'a' }
  t.same([fail(a), fail(a), fail(a), fail(a), fail(a), fail(a)], [0, 0, 250, 500, 1000, 1000], 'free, then 250 ms doubling up to the most')
  const right = throttle.enter(a)
  if ('busySeconds' in right) throw new Error('busy')
  t.equal(right.waitMs, 1000, 'the right password waits as long: the wait depends only on failures already counted')
  t.same(throttle.enter(a), { busySeconds: 1 }, 'one attempt per source at a time: a second one is answered unchecked')
  right.done(false)
  t.equal(throttle.waitMs(a), 1000, 'a success neither counts nor forgives')
  now += 60_000
  t.equal(throttle.waitMs(a), 0, 'a new window starts from nothing')

  // Many addresses, each within its own budget: together past the global one (5 x 2 = 10), everyone without a device waits.
  for (let i = 0; i < 10; i++) fail({ address: `spread-${i}` })
  t.equal(throttle.waitMs({ address: 'fresh' }), 250)
  for (let i = 10; i < 30; i++) fail({ address: `spread-${i}` })
  t.equal(throttle.waitMs({ address: 'fresh' }), 1000, 'doubling every 10 failures past the global budget')
  t.equal(throttle.waitMs({ device: 'operator' }), 0, 'a device that signed in before is behind no one')

  // At most MAX_WAITING_UNKNOWN attempts without a device at once; a device still gets in.
  const waiting = Array.from({ length: MAX_WAITING_UNKNOWN }, (_, i) => throttle.enter({ address: `w-${i}` }))
  t.ok(waiting.every(w => 'done' in w))
  t.same(throttle.enter({ address: 'one-more' }), { busySeconds: 1 })
  const device = throttle.enter({ device: 'operator' })
  t.same('waitMs' in device && device.waitMs, 0)
  for (const w of waiting) if ('done' in w) w.done(false)
  t.ok('done' in throttle.enter({ address: 'one-more' }), 'room again once they are answered')

  // Bounded memory: expired entries give way first, then the oldest.
  const small = new SignInThrottle({ perSource: 1, windowMs: 1000, maxDelayMs: 1000 }, 2, () => now)
  const failSmall = (address: string): void => { const x = small.enter({ address }); if ('done' in x) x.done(true) }
  failSmall('x')
  now += 1000
  failSmall('y')
  failSmall('z') // full: x has expired and gives way
  t.equal(small.waitMs({ address: 'y' }), 250)
  failSmall('q') // full of live entries: the oldest (y) gives way
  t.equal(small.waitMs({ address: 'z' }), 250)
  t.equal(small.waitMs({ address: 'y' }), 0, 'forgotten')
})

/** A sign-in from `address`, with the device cookie when given: the answer and how long it took. */
async function signInFrom (app: FastifyInstance, address: string, password: string, device?: string): Promise<{ status: number, ms: number, cookies: string }> {
  const started = performance.now()
  const res = await app.inject({
    method: 'POST', url: '/console/sign-in', remoteAddress: address, payload: new URLSearchParams({ password }).toString(),
    headers: { ...FORM, ...(device === undefined ? {} : { cookie: device }) }
  })
  return { status: res.statusCode, ms: performance.now() - started, cookies: [res.headers['set-cookie'] ?? []].flat().join('\n') }
}

t.test('the operator signs in after 20+ failures from its own address (and wrong API keys from it): a wait, never a lock', async t => {
  const { app } = await buildApp(t, { ...env, CONSOLE_SIGN_IN_MAX_DELAY_MS: '400' })
  for (let i = 0; i < 25; i++) t.equal((await app.inject({ url: '/tenants', headers: { 'x-api-key': `wrong-api-key-${i}-0123456789` } })).statusCode, i < 20 ? 401 : 429)
  const answers: Array<{ status: number, ms: number }> = []
  for (let i = 0; i < 25; i++) answers.push(await signInFrom(app, '127.0.0.1', `wrong-password-number-${i}`))
  t.ok(answers.every(a => a.status === 401), 'every wrong password is checked and answered 401, none locked out')
  const early = answers.slice(0, 20).map(a => a.ms).sort((a, b) => a - b)
  t.ok(early[10] < 390, `the first AUTH_FAILURE_LIMIT (20) do not wait (median ${Math.round(early[10])} ms)`)
  t.ok(answers.slice(21).every(a => a.ms >= 390), `later ones wait (${answers.slice(20).map(a => Math.round(a.ms)).join(', ')} ms)`)
  const right = await signInFrom(app, '127.0.0.1', CONSOLE_PASSWORD)
  t.equal(right.status, 303, 'the right password signs in after its wait')
  t.ok(right.ms >= 390, `(${Math.round(right.ms)} ms)`)
  t.match(right.cookies, /receiver_console_device=[^;]+; Path=\/console\/sign-in; Expires=[^;]+; HttpOnly; SameSite=Strict/, 'and the browser is given a device cookie')
})

t.test('38 other addresses guessing: slowed (one at a time each, a global budget); the operator\'s browser signs in at once, a new one after a wait', async t => {
  const { app } = await buildApp(t, { ...env, CONSOLE_SIGN_IN_MAX_DELAY_MS: '3000' })
  const first = await signInFrom(app, '10.0.0.1', CONSOLE_PASSWORD)
  const device = first.cookies.split('\n').find(c => c.startsWith('receiver_console_device='))!.split(';')[0]
  const answers: Array<{ status: number, ms: number }> = []
  let attacking = true
  const started = performance.now()
  const attack = Promise.all(Array.from({ length: 38 }, async (_, a) => {
    for (let i = 0; i < 20 && attacking; i++) {
      // Two at a time from each address: the second is answered 429 unchecked while the first is checked.
      answers.push(...await Promise.all([signInFrom(app, `192.0.2.${a + 1}`, `guess-${a}-${i}`), signInFrom(app, `192.0.2.${a + 1}`, `guess-${a}-${i}b`)]))
    }
  }))
  await new Promise(resolve => setTimeout(resolve, 1500))
  const operator = await signInFrom(app, '192.0.2.1', CONSOLE_PASSWORD, device)
  t.equal(operator.status, 303, 'the operator\'s browser, even behind an attacker\'s address, signs in during the attack')
  t.ok(operator.ms < 2500, `without the wait others get (${Math.round(operator.ms)} ms, under a busy event loop)`)
  attacking = false
  await attack
  const elapsed = performance.now() - started
  const checked = answers.filter(a => a.status === 401).length
  const unchecked = answers.filter(a => a.status === 429).length
  t.equal(checked + unchecked, answers.length, 'every guess is 401 or 429, none signs in')
  t.ok(unchecked >= checked, `${unchecked} answered 429 unchecked, ${checked} checked`)
  t.ok(checked / (elapsed / 1000) < 200, `guessing slowed: ${checked} checked in ${Math.round(elapsed)} ms`)
  t.ok(answers.filter(a => a.status === 401 && a.ms >= 240).length > 0, 'past the global budget, guesses wait before they are checked')

  const fresh = await signInFrom(app, '198.51.100.7', CONSOLE_PASSWORD)
  t.equal(fresh.status, 303, 'a browser without a device cookie, from an address that never failed, signs in too')
  t.ok(fresh.ms >= 2990, `after the global wait (${Math.round(fresh.ms)} ms)`)
  const forged = await signInFrom(app, '198.51.100.8', 'wrong-password-forged', 'receiver_console_device=forged.value')
  t.equal(forged.status, 401, 'a forged device cookie is no device: it waits like any address')
  t.ok(forged.ms >= 2990)
})

t.test('security headers and a strict CSP on every console page; the stylesheet is served; nothing is cached', async t => {
  const { app } = await buildApp(t, env)
  const cookie = await signIn(app)
  for (const res of [await app.inject({ url: '/console/sign-in' }), await page(app, '/console/', cookie), await page(app, '/console/nowhere', cookie)]) {
    t.equal(res.headers['content-security-policy'],
      "default-src 'none';style-src 'self';img-src 'self';script-src 'none';form-action 'self';frame-ancestors 'none';base-uri 'none'")
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers['strict-transport-security'], undefined, 'no HSTS without CONSOLE_SECURE_COOKIE (plain HTTP)')
    t.match(res.headers['content-type'], 'text/html; charset=utf-8')
    t.notMatch(res.body, /<script|style=/, 'no script, no inline style')
  }
  const css = await app.inject({ url: '/console/assets/console.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], 'text/css')
  const listing = await app.inject({ url: '/console/assets/' })
  t.equal(listing.statusCode, 403, 'no directory listing')
  t.match(listing.body, '<h1>403</h1>')
  const api = await app.inject({ url: '/healthz' })
  t.equal(api.headers['content-security-policy'], undefined, 'the API is untouched by the console\'s headers')
  const openapi = await app.inject({ url: '/docs/json' })
  t.equal(openapi.statusCode, 200)
  t.notMatch(Object.keys(openapi.json().paths).join(' '), 'console', 'not part of the API\'s description')
})

t.test('errors are pages: 404, and a bad query is a 400 page', async t => {
  const { app } = await buildApp(t, env)
  const cookie = await signIn(app)
  const missing = await page(app, '/console/nowhere', cookie)
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /<h1>Not found<\/h1>/)
  const bad = await page(app, '/console/quarantine?before=abc', cookie)
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /<h1>400<\/h1>/)
  t.match(bad.body, /querystring\/before must be integer/)
  const cursor = await page(app, '/console/events?after=bm9wZQ', cookie)
  t.equal(cursor.statusCode, 400)
  t.match(cursor.body, /the page cursor is not one this console gave out/)
  const badTime = await page(app, '/console/events?from=2026-13-45T99:99', cookie)
  t.equal(badTime.statusCode, 400)
  t.match(badTime.body, /not a time: 2026-13-45T99:99/)
})
