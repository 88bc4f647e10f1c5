import t from 'tap'
import { createHash } from 'node:crypto'
import { API_KEY, buildApp } from '../helpers/app.js'
import { CONSOLE_PASSWORD, csrfOf, page, postForm, signIn } from '../helpers/console.js'
import { loadConfig } from '../../src/config.js'
import { SignInLockout } from '../../src/console/lockout.js'

// The console's protection (issue 15): off without a password, sign-in to a server-side session, the
// cookie's attributes, expiry, sign-out that revokes, CSRF, the per-address failure limit, the API key
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
  const setCookie = String(right.headers['set-cookie'])
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

t.test('failed sign-ins count toward the per-address limit; over it, even the right password waits', async t => {
  const { app } = await buildApp(t, { ...env, AUTH_FAILURE_LIMIT: '2', AUTH_FAILURE_WINDOW_MS: '60000' })
  t.equal((await postForm(app, '/console/sign-in', { password: 'wrong-password-number-1' })).statusCode, 401)
  // The API's failures count on the same limit.
  t.equal((await app.inject({ url: '/tenants', headers: { 'x-api-key': 'wrong-api-key-0123456789' } })).statusCode, 401)
  const limited = await postForm(app, '/console/sign-in', { password: 'wrong-password-number-2' })
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.match(limited.body, /Too many failed sign-ins from this address/)
  const right = await postForm(app, '/console/sign-in', { password: CONSOLE_PASSWORD })
  t.equal(right.statusCode, 429, 'the right password is not even looked at while the address is over the limit')
  t.equal(right.headers['set-cookie'], undefined)
})

t.test('SignInLockout: per address, until its time; bounded', async t => {
  const lockout = new SignInLockout(2)
  lockout.lock('a', 10_000, 0)
  t.equal(lockout.retryAfterSeconds('a', 1000), 9)
  t.equal(lockout.retryAfterSeconds('b', 1000), 0)
  t.equal(lockout.retryAfterSeconds('a', 10_000), 0, 'over at its time')
  lockout.lock('a', 10_000, 0)
  lockout.lock('b', 1000, 0)
  lockout.lock('c', 10_000, 5000) // full: b has expired and gives way
  t.equal(lockout.retryAfterSeconds('a', 5000), 5)
  t.equal(lockout.retryAfterSeconds('c', 5000), 10)
  lockout.lock('d', 10_000, 5000) // full of live entries: the oldest (a) gives way
  t.equal(lockout.retryAfterSeconds('a', 5000), 0)
  t.equal(lockout.retryAfterSeconds('d', 5000), 10)
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
