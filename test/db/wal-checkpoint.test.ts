import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import t from 'tap'
import { migrateSqlite, openSqliteClient, sqliteFilePath } from '../../src/db/engines/sqlite.js'
import { IdleWalCheckpoint } from '../../src/db/engines/wal-checkpoint.js'
import { databaseLogHooks } from '../../src/plugins/database.js'
import { buildApp, deliver, tempDir, type Teardown } from '../helpers/app.js'
import { events } from '../helpers/events.js'

// SQLITE_CHECKPOINT_EVENTS: the WAL is copied into the database file while the writer is idle. What a
// checkpoint has copied is what the database file holds on its own, without its -wal file.

/** Counts the events the database file holds by itself: each call copies the file alone (no -wal) and opens the copy. */
function eventsInFileAlone (t: Teardown, url: string): () => number {
  const copy = join(tempDir(t), 'copy.db')
  return () => {
    for (const suffix of ['-wal', '-shm']) rmSync(copy + suffix, { force: true })
    copyFileSync(sqliteFilePath(url), copy)
    const db = new Database(copy)
    try {
      return (db.prepare('SELECT count(*) AS n FROM "events"').get() as { n: number }).n
    } finally {
      db.close()
    }
  }
}

const tenantEvents = (n: number) => [...Array(n).keys()].map(i => events.createTenant(`cp-t${i}`, { name: `t${i}` }, { time: '2026-05-19T10:00:00Z' }))

t.test('after SQLITE_CHECKPOINT_EVENTS events, an idle writer checkpoints the WAL into the database file', async t => {
  const { app, config } = await buildApp(t, { SQLITE_CHECKPOINT_EVENTS: '3' })
  const inFileAlone = eventsInFileAlone(t, config.DATABASE_URL)
  for (const event of tenantEvents(2)) t.equal(await deliver(app, event), 'applied')
  await sleep(50)
  t.equal(inFileAlone(), 0, 'two events: not due, still only in the WAL')
  t.equal(await deliver(app, tenantEvents(3)[2]), 'applied')
  let alone = 0
  for (let i = 0; i < 100 && alone < 3; i++) { await sleep(10); alone = inFileAlone() }
  t.equal(alone, 3, 'the third event made it due: all three are in the database file')
})

t.test('SQLITE_CHECKPOINT_EVENTS=0 leaves checkpoints to SQLite (every 1000 WAL pages)', async t => {
  const { app, config } = await buildApp(t, { SQLITE_CHECKPOINT_EVENTS: '0' })
  for (const event of tenantEvents(5)) t.equal(await deliver(app, event), 'applied')
  await sleep(100)
  t.equal(eventsInFileAlone(t, config.DATABASE_URL)(), 0)
})

t.test('a checkpoint that fails rejects, and the database plugin logs it as a warning', async t => {
  const options = { url: `file:${join(tempDir(t), 'receiver.db')}`, busyTimeoutMs: 100, synchronous: 'FULL' as const }
  await migrateSqlite(options)
  const prisma = await openSqliteClient(options)
  t.teardown(async () => { await prisma.$disconnect() })
  const checkpoint = new IdleWalCheckpoint(prisma, 1)
  checkpoint.written(1)
  t.ok(checkpoint.due())
  // The adapter has one connection: a checkpoint cannot run on it while a write transaction is open.
  const failure = await prisma.$transaction(async tx => {
    await tx.$executeRawUnsafe('UPDATE "quarantine" SET "error" = "error"')
    return await checkpoint.run().then(() => undefined, (err: unknown) => err)
  })
  t.match(failure, { message: /locked/ })
  t.notOk(checkpoint.due(), 'not due again until more events are written')

  let logged = ''
  const { log } = Fastify({ logger: { stream: new Writable({ write (chunk, _enc, done) { logged += String(chunk); done() } }) } })
  databaseLogHooks(log).onCheckpointError(failure)
  t.match(JSON.parse(logged), { level: 40, msg: 'WAL checkpoint failed; SQLite will checkpoint on its own', err: { message: /locked/ } })
})
