import t from 'tap'
import Fastify, { type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../../src/app.js'
import { API_KEY, deliver, testConfig } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events } from '../helpers/events.js'
import { CONSOLE_PASSWORD, FORM, signIn } from '../helpers/console.js'

// Every parameter is validated at the edge (issue 25): every registered route (Fastify's own list, so that a
// route added later is walked too) is asked with hostile values in each of its parameters, on both engines:
// no answer is a 5xx, and a parameter declared as a number or text answers 400 naming it.

/** Values Ajv would coerce to a number that is not finite, or that no 32-bit column holds. */
const NUMBERS = ['1e309', 'Infinity', '-Infinity', 'NaN', '2147483648', '9007199254740993', '-1e309', '1.5']
/** Texts PostgreSQL refuses (U+0000), or that look like numbers. */
const TEXTS = ['%00', 'a%00b', '1e309', 'Infinity']

interface Param { name: string, in: 'querystring' | 'params', type: string, maximum?: number }

function paramsOf (route: RouteOptions): Param[] {
  const schema = route.schema as { querystring?: any, params?: any } | undefined
  return (['querystring', 'params'] as const).flatMap(part =>
    Object.entries<any>(schema?.[part]?.properties ?? {}).map(([name, s]) => ({ name, in: part, type: s.type, maximum: s.maximum })))
}

engineTest(t, 'every route answers hostile parameters with a 4xx, never a 5xx', async (t, engine) => {
  const config = testConfig(t, { CONSOLE_PASSWORD, LOG_LEVEL: 'silent' }, engine)
  const server = Fastify(serverOptions(config))
  const routes: RouteOptions[] = []
  server.addHook('onRoute', route => { routes.push(route) })
  await server.register(fp(app), { config })
  await server.ready()
  t.teardown(async () => { await server.close() })
  // Something to read, so that a page that gets past validation does read rows.
  await deliver(server, events.createTenant('t1', { name: 'T' }, { time: new Date().toISOString() }))
  const cookie = await signIn(server)
  const headers = { 'x-api-key': API_KEY, cookie }

  const methods = routes.flatMap(r => [r.method].flat().map(method => ({ ...r, method })))
    .filter(r => r.method === 'GET' || r.method === 'POST')
  t.ok(methods.some(r => r.url === '/console/quarantine/:id/replay'), 'the console\'s routes are walked')
  t.ok(methods.some(r => r.url === '/changes'), 'the API\'s routes are walked')
  let asked = 0
  for (const route of methods) {
    const params = paramsOf(route)
    const path = (value: string): string => route.url.replace(/:[a-z]+/gi, value).replace('*', 'x')
    const ask = async (url: string) => await server.inject({ method: route.method, url, headers: { ...headers, ...(route.method === 'POST' ? FORM : {}) }, payload: route.method === 'POST' ? 'csrf=x' : undefined })
    // Hostile values in parameters the route does not declare, and in the path.
    for (const value of [...NUMBERS, ...TEXTS]) {
      for (const url of [`${path('1')}?after=${value}&limit=${value}&wait=${value}&cursor=${value}&before=${value}`, path(value)]) {
        const res = await ask(url)
        asked++
        if (res.statusCode >= 500) t.fail(`${route.method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
      }
    }
    // Each declared parameter alone: a number or text it cannot hold is a 400 naming it.
    for (const param of params) {
      const hostile = param.type === 'integer'
        ? NUMBERS.filter(v => !(param.maximum !== undefined && param.maximum >= Number(v) && Number.isInteger(Number(v))))
        : ['%00', 'a%00b']
      for (const value of hostile) {
        const url = param.in === 'params' ? path(value) : `${path('1')}?${param.name}=${value}`
        const res = await ask(url)
        asked++
        if (res.statusCode !== 400 || !res.body.includes(`${param.in}/${param.name}`)) {
          t.fail(`${route.method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
        }
      }
    }
  }
  t.comment(`${methods.length} routes, ${asked} requests`)
  t.ok(asked > 500, `${asked} hostile requests asked`)
})
