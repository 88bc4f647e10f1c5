import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { sqlite, type Engine } from './engines.js'

export const API_KEY = 'test-key-0123456789abcdef'

/** tap's test object, reduced to what the helpers use. */
export interface Teardown { teardown: (fn: () => unknown) => void }

/** A fresh directory removed after the test. */
export function tempDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'receiver-test-'))
  // Retried: a file SQLite's threads let go of as the app closes can still be in the directory the first time.
  t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }))
  return dir
}

/** The test configuration on a fresh database of `engine` (a temp SQLite file by default). */
export function testConfig (t: Teardown, env: Record<string, string> = {}, engine: Engine = sqlite): Config {
  return loadConfig({
    API_KEYS: API_KEY,
    DATABASE_URL: engine.databaseUrl(t),
    LOG_LEVEL: 'info',
    // Parallel test files on few cores look like event-loop lag to back-pressure; its tests turn it on.
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  })
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** Every log line the app wrote, as text. */
  logs: () => string
}

const isEngine = (x: Engine | Config): x is Engine => 'databaseUrl' in x

/**
 * The receiver on a fresh database of `engine` (SQLite by default), closed after the test. A Config instead
 * of an engine is used as it is. `now`: the app's clock (AppOptions.now), for plans taking effect.
 */
export async function buildApp (t: Teardown, env: Record<string, string> = {}, engineOrConfig: Engine | Config = sqlite, now?: () => number): Promise<TestApp> {
  const config = isEngine(engineOrConfig) ? testConfig(t, env, engineOrConfig) : engineOrConfig
  let captured = ''
  const stream = new Writable({ write (chunk, _enc, done) { captured += String(chunk); done() } })
  const server = Fastify(serverOptions(config, stream))
  await server.register(fp(app), { config, now })
  await server.ready()
  t.teardown(async () => { await server.close() })
  return { app: server, config, logs: () => captured }
}

/** The headers EventBridge's API destination sends. */
export const EVENTBRIDGE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Amazon/EventBridge/ApiDestinations',
  connection: 'close',
  range: 'bytes=0-1048575'
}

export async function postEvent (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...EVENTBRIDGE_HEADERS, 'x-api-key': API_KEY, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

export async function getJson (app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url, headers: { 'x-api-key': API_KEY } })
}

/** POSTs an event and returns its outcome, failing loudly on anything but 200. */
export async function deliver (app: FastifyInstance, body: unknown): Promise<string> {
  const res = await postEvent(app, body)
  if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}: ${res.body}`)
  return res.json().results[0].outcome
}
