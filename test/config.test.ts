import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { buildApp, testConfig } from './helpers/app.js'

t.test('defaults', async t => {
  const config = loadConfig({})
  t.match(config, {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: 3000,
    DATABASE_URL: 'file:./data/receiver.db',
    API_KEYS: [],
    API_KEY_HEADER: 'x-api-key',
    LOG_LEVEL: 'info',
    BODY_LIMIT: 2 * 1024 * 1024,
    SQLITE_SYNCHRONOUS: 'FULL',
    SQLITE_BUSY_TIMEOUT_MS: 2000,
    RETRY_AFTER_SECONDS: 5
  })
})

t.test('API_KEYS is a comma-separated list', async t => {
  t.same(loadConfig({ API_KEYS: ' aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbb,,' }).API_KEYS, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'])
})

t.test('every bad value is named in one error', async t => {
  const err = t.throws(() => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', SQLITE_SYNCHRONOUS: 'sometimes', DATABASE_URL: 'mysql://x' })) as ConfigError
  t.type(err, ConfigError)
  const text = err.problems.join('\n')
  for (const name of ['PORT', 'LOG_LEVEL', 'SQLITE_SYNCHRONOUS', 'DATABASE_URL']) t.match(text, name)
  t.match(err.message, /^invalid configuration:/)
  t.throws(() => loadConfig({ API_KEYS: 'short' }), { message: /shorter than 16/ })
  t.throws(() => loadConfig({ API_KEYS: 'k'.repeat(513) }), { message: /longer than 512/ })
  t.throws(() => loadConfig({ API_KEY_HEADER: 'bad header' }), { message: /API_KEY_HEADER/ })
})

t.test('without a key: development generates one and logs it once; production refuses to start', async t => {
  const { app, logs } = await buildApp(t, { API_KEYS: '' })
  const [key] = app.config.API_KEYS
  t.ok(key.length >= 24, 'a random key was generated')
  const warnings = logs().split('\n').filter(line => line.includes(key))
  t.equal(warnings.length, 1, 'logged once')
  t.match(JSON.parse(warnings[0]), { level: 40 })
  const res = await app.inject({ method: 'GET', url: '/users/x', headers: { 'x-api-key': key } })
  t.equal(res.statusCode, 404, 'the generated key works')

  const config = testConfig(t, { API_KEYS: '', NODE_ENV: 'production' })
  await t.rejects(buildApp(t, {}, config), { message: /API_KEYS is empty/ })
})
