import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Writable } from 'node:stream'
import t from 'tap'
import Fastify from 'fastify'
import { loadConfig } from '../src/config.js'
import { logFormat, loggerOptions } from '../src/logger.js'
import { tempDir } from './helpers/app.js'

const KEY = 'secret-key-0123456789abcdef'
const BEARER = 'Bearer secret-token-0123456789'

t.test('pretty only on a terminal outside production', async t => {
  t.equal(logFormat('development', true), 'pretty')
  t.equal(logFormat('test', true), 'pretty')
  t.equal(logFormat('production', true), 'json')
  t.equal(logFormat('development', false), 'json')
  t.equal(logFormat('development', undefined), 'json', 'stdout of a worker or a closed stream has no isTTY')
  t.equal(logFormat('production', false), 'json')
})

t.test('the options follow the format, and a given stream always takes JSON lines', async t => {
  const dev = loadConfig({ NODE_ENV: 'development' })
  const prod = loadConfig({ NODE_ENV: 'production', API_KEYS: KEY })

  const pretty = loggerOptions(dev, undefined, true) as Record<string, any>
  t.match(pretty, { level: 'info', transport: { target: 'pino-pretty', options: { destination: 1 } } })
  t.ok(pretty.redact.paths.includes('req.headers["x-api-key"]'))

  for (const [config, tty] of [[dev, false], [prod, true], [prod, false]] as const) {
    const json = loggerOptions(config, undefined, tty) as Record<string, any>
    t.equal(json.transport, undefined, `${config.NODE_ENV}, tty ${tty}: no transport`)
    t.equal(json.stream, undefined)
    t.equal(json.level, 'info')
  }

  const stream = new Writable({ write (_c, _e, done) { done() } })
  const captured = loggerOptions(dev, stream, true) as Record<string, any>
  t.equal(captured.stream, stream)
  t.equal(captured.transport, undefined)

  // Without the third argument the real stdout decides (tap's is a pipe, but do not depend on it).
  const real = loggerOptions(dev) as Record<string, any>
  t.equal(real.transport === undefined ? 'json' : 'pretty', logFormat('development', process.stdout.isTTY))
})

/** Fastify's own req serializer drops headers: this is the debug serializer the redaction guards against. */
const keepHeaders = { req: (req: object) => ({ ...req }) }

/** A record like the one a request log with headers would produce. */
function logSecrets (log: { info: (obj: object, msg: string) => void }): void {
  log.info({ req: { headers: { 'x-api-key': KEY, authorization: BEARER } }, headers: { authorization: BEARER } }, 'probe')
}

t.test('JSON lines redact the API key and Authorization', async t => {
  let out = ''
  const stream = new Writable({ write (chunk, _e, done) { out += String(chunk); done() } })
  const app = Fastify({ logger: { ...(loggerOptions(loadConfig({}), stream, true) as object), serializers: keepHeaders } })
  t.teardown(async () => { await app.close() })
  logSecrets(app.log)
  const line = JSON.parse(out.trim().split('\n').at(-1) as string)
  t.equal(line.msg, 'probe')
  t.same(line.req.headers, { 'x-api-key': '[REDACTED]', authorization: '[REDACTED]' })
  t.same(line.headers, { authorization: '[REDACTED]' })
  t.notMatch(out, 'secret-')
})

t.test('pretty lines (pino-pretty transport) redact them too', async t => {
  const file = join(tempDir(t), 'pretty.log')
  const options = loggerOptions(loadConfig({ API_KEY_HEADER: 'X-Receiver-Key' }), undefined, true) as Record<string, any>
  // The real options; only where pino-pretty writes changes, from stdout to a file.
  options.transport.options.destination = file
  const app = Fastify({ logger: { ...options, serializers: keepHeaders } })
  t.teardown(async () => { await app.close() })
  app.log.info({ req: { headers: { 'x-receiver-key': KEY, authorization: BEARER } } }, 'probe')

  let text = ''
  for (let i = 0; i < 200 && !text.includes('probe'); i++) {
    await sleep(50)
    if (existsSync(file)) text = readFileSync(file, 'utf8')
  }
  t.match(text, /INFO.*probe/, 'a pretty line, not JSON')
  t.notOk(text.trimStart().startsWith('{'))
  t.match(text, /"x-receiver-key": "\[REDACTED\]"/)
  t.match(text, /"authorization": "\[REDACTED\]"/)
  t.notMatch(text, 'secret-')
})
