import t from 'tap'
import { request } from 'node:http'
import Database from 'better-sqlite3'
import { sqliteFilePath } from '../src/db/engines/sqlite.js'
import { join } from 'node:path'
import { runScript, startServer, waitListening, type ServerProcess } from './helpers/process.js'
import { tempDir } from './helpers/app.js'
import { engineTest } from './helpers/engines.js'
import { sample } from './helpers/events.js'

// server.ts as a real process: it reads the environment, listens, and stops cleanly on SIGTERM.

const KEY = 'process-test-key-0123456789'


engineTest(t, 'starts, receives an event over HTTP, and exits 0 on SIGTERM', async (t, engine) => {
  const server = startServer({ PORT: '0', API_KEYS: KEY, DATABASE_URL: engine.databaseUrl(t) })
  const port = await waitListening(server)
  const res = await fetch(`http://127.0.0.1:${port}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-api-key': KEY },
    body: JSON.stringify(sample('create_tenant'))
  })
  t.equal(res.status, 200)
  t.same(await res.json(), { results: [{ id: sample('create_tenant').id, outcome: 'applied' }] })
  server.kill('SIGTERM')
  const { code } = await server.exit
  const output = server.output()
  t.equal(code, 0)
  t.match(output, 'server closing')
  t.notOk(output.includes(KEY), 'the key is not in the output')
})

t.test('refuses to start with a clear message on bad configuration', async t => {
  const badServer = startServer({ PORT: 'eighty', SQLITE_SYNCHRONOUS: 'maybe' })
  const bad = { code: (await badServer.exit).code, output: badServer.output() }
  t.equal(bad.code, 1)
  t.match(bad.output, /invalid configuration:[\s\S]*PORT[\s\S]*SQLITE_SYNCHRONOUS/)

  const productionServer = startServer({ NODE_ENV: 'production', API_KEYS: '', PORT: '0', DATABASE_URL: `file:${join(tempDir(t), 'db.sqlite')}` })
  const production = { code: (await productionServer.exit).code, output: productionServer.output() }
  t.equal(production.code, 1)
  t.match(production.output, 'API_KEYS is empty')
})

engineTest(t, 'db:migrate applies pending migrations without starting the service', async (t, engine) => {
  const run = async (env: Record<string, string>) => await runScript('migrate', [], env)
  const DATABASE_URL = engine.databaseUrl(t)
  const first = await run({ DATABASE_URL })
  t.equal(first.code, 0)
  t.match(first.output, /applied: \d{14}_init/)
  const second = await run({ DATABASE_URL })
  t.equal(second.code, 0)
  t.match(second.output, 'database is up to date')
  const bad = await run({ DATABASE_URL: 'nonsense' })
  t.equal(bad.code, 1)
  t.match(bad.output, /invalid configuration:[\s\S]*DATABASE_URL/)
})

t.test('SIGTERM: an in-flight request still commits and answers, then the process exits 0', async t => {
  const DATABASE_URL = `file:${join(tempDir(t), 'db.sqlite')}`
  const server = startServer({ PORT: '0', API_KEYS: KEY, DATABASE_URL, SHUTDOWN_TIMEOUT_MS: '5000' })
  const port = await waitListening(server)
  const body = JSON.stringify(sample('create_tenant'))
  // The body is sent in two halves around the signal, so the request is in flight while the server closes.
  const answer = new Promise<{ status: number | undefined, body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'content-length': Buffer.byteLength(body) } }, res => {
      let text = ''
      res.on('data', d => { text += String(d) })
      res.on('end', () => resolve({ status: res.statusCode, body: text }))
    })
    req.on('error', reject)
    req.write(body.slice(0, 100))
    void waitFor(server, 'server closing').then(() => req.end(body.slice(100)), reject)
  })
  await new Promise(resolve => setTimeout(resolve, 100))
  server.kill('SIGTERM')
  const res = await answer
  t.equal(res.status, 200, res.body)
  t.same(JSON.parse(res.body), { results: [{ id: sample('create_tenant').id, outcome: 'applied' }] })
  const { code } = await server.exit
  t.equal(code, 0)
  const db = new Database(sqliteFilePath(DATABASE_URL), { readonly: true })
  t.teardown(() => db.close())
  t.same(db.prepare('SELECT id FROM events').all(), [{ id: sample('create_tenant').id }], 'the answered event is in the database')
})

t.test('SIGTERM: a request that does not finish within SHUTDOWN_TIMEOUT_MS makes the process exit 1', async t => {
  const server = startServer({ PORT: '0', API_KEYS: KEY, DATABASE_URL: `file:${join(tempDir(t), 'db.sqlite')}`, SHUTDOWN_TIMEOUT_MS: '300' })
  const port = await waitListening(server)
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'content-length': 1000 } })
  req.on('error', () => {})
  req.write('{"id":')
  await new Promise(resolve => setTimeout(resolve, 100))
  const started = Date.now()
  server.kill('SIGTERM')
  const { code } = await server.exit
  t.equal(code, 1)
  t.ok(Date.now() - started < 3000, 'within the limit, give or take start-up of the timer')
  req.destroy()
})

async function waitFor (server: ServerProcess, text: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (server.output().includes(text)) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`no "${text}" in:\n${server.output()}`)
}
