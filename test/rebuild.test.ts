import t from 'tap'
import { engineTest } from './helpers/engines.js'
import type { FastifyInstance } from 'fastify'
import { buildApp, deliver, getJson, postEvent } from './helpers/app.js'
import { events, makeEvent } from './helpers/events.js'
import { runScript } from './helpers/process.js'

async function everything (app: FastifyInstance): Promise<unknown> {
  return { tenants: (await getJson(app, '/tenants?limit=200')).json(), users: (await getJson(app, '/users?limit=200')).json() }
}

const history = () => [
  events.createTenant('r-t1', { name: 't1', attributes: { a: 1, b: 2 } }, { time: '2026-05-19T10:00:00Z' }),
  events.createTenant('r-t2', { name: 't2' }, { time: '2026-05-19T10:00:00Z' }),
  events.createUser('r-u1', { email: 'u1@x', attributes: { lang: 'ja' } }, { time: '2026-05-19T10:00:00Z' }),
  events.createTenantUser('r-t1', 'r-u1', { dept: 'dev' }, [{ id: 1, roles: ['admin', 'viewer'] }], { time: '2026-05-19T10:00:01Z' }),
  events.createTenantUser('r-t2', 'r-u1', {}, [], { time: '2026-05-19T10:00:01Z' }),
  events.updateTenant('r-t1', { name: 't1b', attributes: { a: null } }, { time: '2026-05-19T10:00:02Z' }),
  events.deleteTenantUserRole('r-t1', 'r-u1', 1, 'viewer', { time: '2026-05-19T10:00:02Z' }),
  events.deleteTenant('r-t2', { time: '2026-05-19T10:00:03Z' }),
  events.updateTenantPlan('r-t1', { next_plan_id: 'p' }, { time: '2026-05-19T10:00:03Z' }),
  events.createRole('admin', 'Admin', { time: '2026-05-19T10:00:00Z' }),
  events.createEnv(1, 'prod', { time: '2026-05-19T10:00:00Z' }),
  // Older events arriving last.
  events.updateUserEmail('r-u1', 'old@x', { time: '2026-05-19T09:00:00Z' }),
  events.createTenantUser('r-t2', 'r-u1', {}, [{ id: 2, roles: ['x'] }], { time: '2026-05-19T09:00:00Z' })
]

engineTest(t, 'rebuilding from the recorded events gives the live state back', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  for (const e of history()) await deliver(app, e)
  const live = await everything(app)
  t.equal((live as any).tenants.items.length, 1)

  // Lose some projected state, as a projection bug or a new projection would.
  await app.repository.prisma.$executeRawUnsafe('DELETE FROM "tenant_user_roles"')
  await app.repository.prisma.$executeRawUnsafe('UPDATE "tenants" SET "name" = \'corrupted\'')
  t.not(JSON.stringify(await everything(app)), JSON.stringify(live))

  t.same(await app.repository.rebuild(), { events: history().length, unreadable: 0, inexact: 0 })
  t.same(await everything(app), live)
  t.same(await app.repository.rebuild(), { events: history().length, unreadable: 0, inexact: 0 }, 'and again: idempotent')
  t.same(await everything(app), live)

  // Events recorded by this version but unreadable to it (say, written by hand) are counted, not fatal.
  await app.repository.prisma.$executeRawUnsafe(`INSERT INTO "events" ("id", "event_type", "time", "received_at", "outcome", "raw")
    VALUES ('hand-made', 'x', '2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.000+00:00', 'ignored', '{"not":"an event"}')`)
  t.same(await app.repository.rebuild(), { events: history().length + 1, unreadable: 1, inexact: 0 })
  t.same(await everything(app), live)

  // Stored by an older version, which redacted values by their names (an attribute named client_secret):
  // not applied rather than applied rewritten. The same stored after this version's migration is data.
  const rewritten = events.createTenant('r-old', { name: 'old', attributes: { client_secret: 'cs' } }, { time: '2026-05-19T10:00:00Z', encoding: 'object' })
  const stored = JSON.parse(JSON.stringify(rewritten).replaceAll('"client_secret":"cs"', '"client_secret":"[REDACTED]"'))
  stored.detail.event.api_key = '[REDACTED]'
  const insert = async (id: string, receivedAt: string) => { await app.repository.prisma.event.create({ data: { id, eventType: 'create_tenant', time: new Date('2026-05-19T10:00:00Z'), receivedAt: new Date(receivedAt), outcome: 'applied', raw: { ...stored, id } } }) }
  await insert('old-inexact', '2026-01-01T00:00:00Z')
  t.same(await app.repository.rebuild(), { events: history().length + 2, unreadable: 1, inexact: 1 })
  t.same(await everything(app), live, 'the rewritten event is not applied')
  await app.repository.prisma.event.delete({ where: { id: 'old-inexact' } })
  await insert('new-literal', new Date(Date.now() + 60_000).toISOString())
  t.same(await app.repository.rebuild(), { events: history().length + 2, unreadable: 1, inexact: 0 }, 'after the migration, "[REDACTED]" is what was sent')
  t.equal((await getJson(app, '/tenants/r-old')).json().attributes.client_secret, '[REDACTED]')
  await app.repository.prisma.event.delete({ where: { id: 'new-literal' } })
  await app.repository.rebuild()

  // Password calls and ignored events are replayed too, and change nothing.
  const ignored = makeEvent({ eventType: 'x', method: 'PATCH', uri: '/v1/auth/users/r-u1/password', time: '2026-05-19T11:00:00Z', request: { password: 'p' } })
  t.equal((await postEvent(app, ignored)).json().results[0].outcome, 'ignored')
  await app.repository.rebuild()
  t.same(await everything(app), live)
})

engineTest(t, 'npm run rebuild runs it from the command line', async (t, engine) => {
  const { app, config } = await buildApp(t, {}, engine)
  for (const e of history()) await deliver(app, e)
  const run = async (env: Record<string, string>) => await runScript('rebuild', [], env)
  const ok = await run({ DATABASE_URL: config.DATABASE_URL, API_KEYS: '' })
  t.equal(ok.code, 0, ok.output)
  t.match(ok.output, `rebuilt the projection from ${history().length} recorded events`)
  const old = events.createTenant('r-old', { name: 'old', attributes: { client_secret: '[REDACTED]' } }, { time: '2026-05-19T10:00:00Z', encoding: 'object' })
  await app.repository.prisma.event.create({ data: { id: old.id, eventType: 'create_tenant', time: new Date('2026-05-19T10:00:00Z'), receivedAt: new Date('2026-01-01T00:00:00Z'), outcome: 'applied', raw: old } })
  const inexact = await run({ DATABASE_URL: config.DATABASE_URL, API_KEYS: '' })
  t.equal(inexact.code, 0, inexact.output)
  t.match(inexact.output, '1 event(s) stored by an older version with data redacted (names that looked like secrets) were not applied: run npm run reconcile')
  const bad = await run({ DATABASE_URL: 'nope' })
  t.equal(bad.code, 1)
  t.match(bad.output, /invalid configuration/)
})
