import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './helpers/app.js'
import { engineTest, pgClient, postgresql } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { feedEntries, Fold, readState } from './helpers/feed.js'
import { parseEvent } from '../src/events/parse.js'
import type { BatchItem } from '../src/db/writing/batch-write.js'
import { FeedLockConflict, FeedLocks, MAX_CONFLICTS, MAX_KEYS } from '../src/db/feed/feed-locks.js'
import { postgresqlTarget } from '../src/postgresql-url.js'
import type { RawQueryable } from '../src/db/engines/driver-adapter.js'
import type { Sql } from '@prisma/client/runtime/client'

// PostgreSQL's writers run at once, each holding the locks of the entities it reads and writes
// (src/db/feed/feed-locks.ts). Concurrent cascades (a tenant deleted while a user below it is deleted or
// shown again, memberships written under both) must still give a feed that folds into exactly the read
// API's state, with no entry that changes nothing, cursors 1..n; and a write that finds a lock it needs
// taken rolls back and runs again with it, losing nothing.

type Event = Record<string, any>

/** Parsed batch items of `list`, as the route hands them to the repository. */
function items (list: Event[]): BatchItem[] {
  return list.map(e => {
    const parsed = parseEvent(e)
    if (!parsed.ok) throw new Error(`invalid test event: ${parsed.problem.message}`)
    return { event: parsed.event, plan: parsed.plan }
  })
}

/** The whole feed, checked to be numbered 1..n, folded; returns the fold and the entries. */
type TapTest = Parameters<Parameters<typeof engineTest>[2]>[0]

async function foldAll (t: TapTest, app: FastifyInstance): Promise<{ fold: Fold, count: number }> {
  const entries = await feedEntries(app.repository, 0, 1_000_000)
  t.same(entries.map(e => e.cursor), entries.map((_, i) => i + 1), 'cursors are 1..n')
  const fold = new Fold()
  t.same(fold.apply(entries as any), [], 'no entry changes nothing')
  t.equal((await app.repository.feedBounds()).head, entries.length, 'the head is the last entry')
  return { fold, count: entries.length }
}

const at = (second: number): string => new Date(Date.parse('2026-05-19T10:00:00Z') + second * 1000).toISOString()

engineTest(t, 'concurrent cascades: the feed folds into exactly the read state', async t => {
  const { app, logs } = await buildApp(t, { LOG_LEVEL: 'warn', PG_POOL_MAX: '12' }, postgresql)
  const repository = app.repository
  const ROUNDS = 25
  for (let r = 0; r < ROUNDS; r++) {
    const ns = `r${r}-`
    const T = `${ns}t`
    const T2 = `${ns}t2`
    const U = `${ns}u`
    const V = `${ns}v`
    const o = (s: number, n: string) => ({ time: at(r * 100 + s), id: `${ns}${n}` })
    // U and V in T and T2; V deleted (to be shown again).
    await repository.writeNow(items([
      events.createTenant(T, { name: 'T', attributes: { a: 1 } }, o(0, 'ct')),
      events.createTenant(T2, { name: 'T2' }, o(0, 'ct2')),
      events.createUser(U, { email: `${U}@x` }, o(0, 'cu')),
      events.createUser(V, { email: `${V}@x` }, o(0, 'cv')),
      events.createTenantUser(T, U, { d: 1 }, [{ id: 1, roles: ['admin'] }], o(1, 'm1')),
      events.createTenantUser(T2, U, {}, [], o(1, 'm2')),
      events.createTenantUser(T, V, {}, [{ id: 1, roles: ['viewer'] }], o(1, 'm3')),
      events.createTenantUser(T2, V, { e: 2 }, [], o(1, 'm4'))
    ]))
    await repository.writeNow(items([events.deleteUser(V, o(2, 'dv'))]))
    // Concurrently, each its own transaction: T deleted; U deleted; V shown again; memberships written
    // under T, T2, U and V; T2 deleted and its memberships' attributes written.
    const batches: Event[][] = [
      [events.deleteTenant(T, o(10, 'dt'))],
      [events.deleteUser(U, o(11, 'du'))],
      [events.createUser(V, { email: `${V}@y` }, o(12, 'rv'))],
      [events.updateTenantUser(T, U, { d: 2 }, o(9, 'um1')), events.createTenantUserRoles(T2, V, 1, ['admin'], o(13, 'rr'))],
      [events.createTenantUser(T2, V, { e: 3 }, [], o(14, 'm5'))],
      [r % 2 === 0 ? events.deleteTenant(T2, o(15, 'dt2')) : events.updateTenantUser(T2, U, { f: 1 }, o(15, 'um2'))],
      [events.createTenant(T, { name: 'T again' }, o(16, 'rt')), events.createTenantUser(T, V, {}, [], o(17, 'm6'))]
    ]
    const outcomes = await Promise.all(batches.map(async b => await repository.writeNow(items(b))))
    t.notOk(outcomes.flat().includes('duplicate'), `round ${r}: no event answered as a duplicate`)
  }
  const { fold, count } = await foldAll(t, app)
  t.ok(count > ROUNDS * 10, `${count} entries`)
  t.same(fold.render(), await readState(app), 'the folded feed is the read API\'s state')
  t.notMatch(logs(), /transient database error/, 'no transaction failed and was retried (no deadlock, no time-out)')
}, [postgresql])

engineTest(t, 'a write whose read needs a lock held elsewhere rolls back and runs again with it, losing nothing', async t => {
  const { app, config } = await buildApp(t, { LOG_LEVEL: 'warn' }, postgresql)
  const repository = app.repository
  const o = (s: number, n: string) => ({ time: at(s), id: n })
  await repository.writeNow(items([
    events.createTenant('t1', { name: 'one' }, o(0, 'ct1')),
    events.createTenant('t2', { name: 'two' }, o(0, 'ct2')),
    events.createUser('u', { email: 'u@x' }, o(0, 'cu')),
    events.createTenantUser('t1', 'u', {}, [], o(1, 'm1')),
    events.createTenantUser('t2', 'u', {}, [{ id: 1, roles: ['admin'] }], o(1, 'm2'))
  ]))
  const { schema } = postgresqlTarget(config.DATABASE_URL)
  const other = await pgClient(t, config.DATABASE_URL)
  // Another transaction holds tenant t2's lock: deleting u learns it only from u's memberships.
  await other.query('BEGIN')
  await other.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${schema}:tenant:t2`])
  let done = false
  const deleting = repository.writeNow(items([events.deleteUser('u', o(5, 'du'))])).then(outcomes => { done = true; return outcomes })
  // It rolled back and now waits for that lock, taken first, in order (not with try-lock).
  let waiting = 0
  for (let i = 0; i < 200 && waiting === 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 25))
    const { rows } = await other.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = $1`, [schema])
    waiting = rows[0].n
  }
  t.equal(waiting, 1, 'the write waits for the lock')
  t.equal(done, false, 'and has not committed')
  t.equal((await repository.feedBounds()).head, 3 + 2 + 1, 'nothing recorded meanwhile')
  await other.query('COMMIT')
  t.same(await deleting, ['applied'], 'the event is applied, not a duplicate of its rolled-back attempt')
  const entries = await feedEntries(repository, 6, 100)
  t.same(entries.map(e => [e.entity, e.key, e.op]), [
    ['user', { id: 'u' }, 'delete'],
    ['membership', { tenant_id: 't1', user_id: 'u' }, 'delete'],
    ['membership', { tenant_id: 't2', user_id: 'u' }, 'delete'],
    ['role_assignment', { tenant_id: 't2', user_id: 'u', env_id: 1, role_name: 'admin' }, 'delete']
  ], 'every entry once')
  const inbox = await repository.prisma.event.findMany({ where: { id: 'du' } })
  t.same(inbox.map(e => e.outcome), ['applied'], 'one inbox row')
  const { fold } = await foldAll(t, app)
  t.same(fold.render(), await readState(app))
}, [postgresql])

engineTest(t, 'large writes and repeated conflicts take the feed\'s lock exclusively', async t => {
  const { app, config } = await buildApp(t, { LOG_LEVEL: 'warn' }, postgresql)
  // More users in one batch than keys taken one by one.
  const outcomes = await app.repository.writeNow(items(Array.from({ length: MAX_KEYS + 10 }, (_, k) =>
    events.createUser(`u${k}`, { email: `u${k}@x` }, { time: at(0), id: `cu${k}` }))))
  t.equal(outcomes.filter(o => o === 'applied').length, MAX_KEYS + 10)
  const { count } = await foldAll(t, app)
  t.equal(count, MAX_KEYS + 10)

  // FeedLocks on a transaction of its own, against locks held by another connection.
  const { schema } = postgresqlTarget(config.DATABASE_URL)
  const other = await pgClient(t, config.DATABASE_URL)
  const tx = await pgClient(t, config.DATABASE_URL)
  const db: RawQueryable = {
    $queryRaw: async <T>(q: Sql) => (await tx.query(q.text, q.values)).rows as T,
    $executeRaw: async (q: Sql) => (await tx.query(q.text, q.values)).rowCount ?? 0
  }
  // Session locks, let go one by one: each attempt takes what the one before learned, first and waiting.
  const busy = (k: number): string[] => [`${schema}:user:busy${k}`]
  for (let k = 0; k <= MAX_CONFLICTS; k++) await other.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', busy(k))
  const locks = new FeedLocks()
  for (let k = 0; k <= MAX_CONFLICTS; k++) {
    locks.restart()
    await tx.query('BEGIN')
    const take = locks.take(['tenant:a'])
    await tx.query(`SELECT ${take.text} AS "n"`, take.values)
    t.equal(locks.exclusive, false, `attempt ${k} takes its keys one by one`)
    t.same(await locks.grow(db, ['tenant:a', `user:free${k}`]), [`user:free${k}`], 'a free key is taken')
    t.same(await locks.grow(db, [`user:free${k}`]), [], 'a key held already is not taken again')
    await t.rejects(locks.grow(db, [`user:busy${k}`]), FeedLockConflict, 'a key held elsewhere is a conflict')
    await tx.query('ROLLBACK')
    await other.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', busy(k))
  }
  t.equal(locks.exclusive, true, `after ${MAX_CONFLICTS} conflicts retried, the next attempt takes the feed's lock exclusively`)
  t.match(locks.take([]).text, /^\(SELECT count\(\*\) FROM \(SELECT pg_advisory_xact_lock\(/)
  t.same(await locks.grow(db, ['user:anything']), [], 'and needs no other')

  const many = new FeedLocks()
  await t.rejects(many.grow(db, Array.from({ length: MAX_KEYS + 1 }, (_, k) => `user:m${k}`)), FeedLockConflict, 'too many keys to take one by one')
  t.equal(many.exclusive, true)
}, [postgresql])
