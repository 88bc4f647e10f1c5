import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { buildApp, testConfig } from './helpers/app.js'
import { engineTest } from './helpers/engines.js'

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
    SQLITE_CHECKPOINT_EVENTS: 16,
    RETRY_AFTER_SECONDS: 5,
    PG_POOL_MAX: 10,
    PG_STATEMENT_TIMEOUT_MS: 3000,
    DB_RETRY_ATTEMPTS: 3
  })
})

t.test('DATABASE_URL selects SQLite (file:) or PostgreSQL (postgres:// or postgresql://)', async t => {
  for (const url of ['file:./x.db', 'postgres://u@db.example.com/receiver', 'postgresql://u:p@db.example.com:5432/receiver?sslmode=require&schema=receiver_1']) {
    t.equal(loadConfig({ DATABASE_URL: url }).DATABASE_URL, url)
  }
  t.throws(() => loadConfig({ DATABASE_URL: 'postgresql://db/x?schema=Bad-Name' }), { message: /DATABASE_URL: schema "Bad-Name" must be lower-case/ })
  t.throws(() => loadConfig({ DATABASE_URL: 'postgresql://a b/x' }), { message: /DATABASE_URL: not a valid postgresql:\/\/ URL/ })
})

t.test('API_KEYS is a comma-separated list', async t => {
  t.same(loadConfig({ API_KEYS: ' aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbb,,' }).API_KEYS, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'])
})

t.test('every bad value is named in one error', async t => {
  const err = t.throws(() => loadConfig({
    PORT: 'eighty', LOG_LEVEL: 'loud', SQLITE_SYNCHRONOUS: 'sometimes', DATABASE_URL: 'mysql://x', PG_POOL_MAX: '0', PG_STATEMENT_TIMEOUT_MS: 'soon', DB_RETRY_ATTEMPTS: '-1'
  })) as ConfigError
  t.type(err, ConfigError)
  const text = err.problems.join('\n')
  for (const name of ['PORT', 'LOG_LEVEL', 'SQLITE_SYNCHRONOUS', 'DATABASE_URL', 'PG_POOL_MAX', 'PG_STATEMENT_TIMEOUT_MS', 'DB_RETRY_ATTEMPTS']) t.match(text, name)
  t.match(err.message, /^invalid configuration:/)
  t.throws(() => loadConfig({ API_KEYS: 'short' }), { message: /shorter than 16/ })
  t.throws(() => loadConfig({ API_KEYS: 'k'.repeat(513) }), { message: /longer than 512/ })
  t.throws(() => loadConfig({ API_KEY_HEADER: 'bad header' }), { message: /API_KEY_HEADER/ })
})

engineTest(t, 'without a key: development generates one and logs it once; production refuses to start', async (t, engine) => {
  const { app, logs } = await buildApp(t, { API_KEYS: '' }, engine)
  const [key] = app.config.API_KEYS
  t.ok(key.length >= 24, 'a random key was generated')
  const warnings = logs().split('\n').filter(line => line.includes(key))
  t.equal(warnings.length, 1, 'logged once')
  t.match(JSON.parse(warnings[0]), { level: 40 })
  const res = await app.inject({ method: 'GET', url: '/users/x', headers: { 'x-api-key': key } })
  t.equal(res.statusCode, 404, 'the generated key works')

  const config = testConfig(t, { API_KEYS: '', NODE_ENV: 'production' }, engine)
  await t.rejects(buildApp(t, {}, config), { message: /API_KEYS is empty/ })
})

t.test('BATCH_CONCURRENCY: one writer on SQLite, a few on PostgreSQL within the pool, or as set', async t => {
  const { batchConcurrency } = await import('../src/db/open.js')
  t.equal(batchConcurrency(loadConfig({})), 1)
  t.equal(batchConcurrency(loadConfig({ DATABASE_URL: 'postgresql://h/db' })), 4)
  t.equal(batchConcurrency(loadConfig({ DATABASE_URL: 'postgresql://h/db', PG_POOL_MAX: '2' })), 1)
  t.equal(batchConcurrency(loadConfig({ DATABASE_URL: 'postgresql://h/db', PG_POOL_MAX: '1' })), 1)
  t.equal(batchConcurrency(loadConfig({ BATCH_CONCURRENCY: '7' })), 7)
})
