import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { API_KEY, buildApp, deliver, postEvent } from './helpers/app.js'
import { engineTest, pgClient } from './helpers/engines.js'
import { makeEvent, sample } from './helpers/events.js'
import { sqliteFilePath } from '../src/db/engines/sqlite.js'

const SECRETS = ['sample_api_key_sample', 'saasus-secret-api-key-sample', 'P@ssw0rd-secret', 'generated-Pw-9x', 'eyJhbGciOiJIUzI1NiJ9.access', 'refresh-token-value']

engineTest(t, 'no secret reaches the events table, the database files or the logs', async (t, engine) => {
  const { app, config, logs } = await buildApp(t, { LOG_LEVEL: 'trace' }, engine)
  const time = '2026-05-19T02:22:58Z'
  await deliver(app, sample('create_tenant'))
  await deliver(app, sample('create_saas_user'))
  await deliver(app, makeEvent({
    eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', time, httpStatus: 201,
    request: { email: 'a@example.com', password: 'P@ssw0rd-secret' },
    response: { id: 'u-1', email: 'a@example.com', attributes: {}, password: 'generated-Pw-9x' }
  }))
  await deliver(app, makeEvent({
    eventType: 'confirm_sign_up', method: 'POST', uri: '/v1/auth/sign-up/confirm', time,
    request: { access_token: 'eyJhbGciOiJIUzI1NiJ9.access', refresh_token: 'refresh-token-value' },
    encoding: 'object'
  }))
  // A refused event is not stored, and its secrets are not logged either.
  const refused = makeEvent({ eventType: 'update_tenant', method: 'PATCH', uri: '/v1/auth/tenants/t', time, request: { password: 'P@ssw0rd-secret' } })
  t.equal((await postEvent(app, refused)).statusCode, 400)
  t.equal((await postEvent(app, sample('create_tenant'), { 'x-api-key': 'wrong-key-but-long-enough' })).statusCode, 401)

  let raws: string
  let files = ''
  if (engine.name === 'sqlite') {
    const file = sqliteFilePath(config.DATABASE_URL)
    const db = new Database(file)
    raws = (db.prepare('SELECT raw FROM events').all() as Array<{ raw: string }>).map(r => r.raw).join('\n')
    t.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 4)
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
    files = readdirSync(dirname(file)).map(name => readFileSync(join(dirname(file), name)).toString('latin1')).join('')
  } else {
    // The server's files are not ours to read: the table's content is what PostgreSQL stores.
    const { rows } = await (await pgClient(t, config.DATABASE_URL)).query<{ raw: string }>('SELECT raw::text AS raw FROM events')
    raws = rows.map(r => r.raw).join('\n')
    t.equal(rows.length, 4)
  }
  t.match(raws, '[REDACTED]')

  for (const secret of [...SECRETS, API_KEY]) {
    t.notOk(raws.includes(secret), `events table has no ${secret}`)
    t.notOk(files.includes(secret), `database files have no ${secret}`)
    t.notOk(logs().includes(secret), `logs have no ${secret}`)
  }
  t.ok(logs().includes('wrong-key') === false, 'a wrong key is not logged either')
})
