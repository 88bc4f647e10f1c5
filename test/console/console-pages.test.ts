import t from 'tap'
import { randomUUID } from 'node:crypto'
import { deliver, postEvent } from '../helpers/app.js'
import { buildApp } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events, sample } from '../helpers/events.js'
import { CONSOLE_PASSWORD, csrfOf, links, mainText, page, postForm, signIn } from '../helpers/console.js'
import { ReconcileStore } from '../../src/db/reconcile-store.js'
import { emptyDrift } from '../../src/reconcile/drift.js'
import { quarantineCopy } from '../../src/events/quarantine-copy.js'
import { ConsoleReads, type EventCursor, type EventFilter } from '../../src/db/console/console-reads.js'

// The console's pages on real data, on SQLite and PostgreSQL: the overview, the event list's filters and
// pages, an event's page, the quarantine with replay, tenants and users.

const env = { CONSOLE_PASSWORD }
const T = '2026-06-01T10:00:00Z'
const at = (s: number) => new Date(Date.parse(T) + s * 1000).toISOString().replace('.000', '')

/** Posts a JSON array of events (one request), failing loudly unless every item was taken. */
async function batch (app: Awaited<ReturnType<typeof buildApp>>['app'], items: unknown[]): Promise<void> {
  const res = await postEvent(app, items)
  if (res.statusCode !== 200) throw new Error(`batch: ${res.statusCode} ${res.body}`)
}

engineTest(t, 'overview: counts by type and outcome as an SVG chart, quarantine, readiness, the last reconciliation, the version', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  let text = mainText((await page(app, '/console/', cookie)).body)
  t.match(text, '0 in the last hour, 0 in the last 24 hours')
  t.match(text, 'no events')
  t.match(text, 'Quarantine 0 items (0 bytes)')
  t.match(text, 'No reconciliation has run')

  t.equal(await deliver(app, sample('create_tenant')), 'applied')
  t.equal(await deliver(app, sample('create_saas_user')), 'applied')
  t.equal(await deliver(app, sample('create_saas_user')), 'duplicate', 'a duplicate is not stored: not counted')
  t.equal(await deliver(app, events.updateTenant('fc84307d-e285-4854-8c16-21a6871a2a13', { name: 'Older' }, { time: '2020-01-01T00:00:00Z' })), 'stale')
  t.equal((await postEvent(app, { ...sample('create_tenant'), id: 'refused-1', detail: { event_type: 'create_tenant' } })).statusCode, 400)
  const store = new ReconcileStore(app.repository)
  const drift = emptyDrift()
  drift.tenants.created = 2
  drift.users.unchanged = 7
  await store.startRun({ id: 'run-1', startedAt: new Date(), snapshotVersion: 'v', dryRun: false, trigger: 'manual', outcome: 'running' })
  await store.finishRun('run-1', { endedAt: new Date(), outcome: 'succeeded', counts: drift })

  const res = await page(app, '/console/', cookie)
  text = mainText(res.body)
  t.match(text, '4 in the last hour, 4 in the last 24 hours')
  t.match(res.body, /<svg class="chart" role="img"[^>]*aria-label="Last hour: create_saas_user: 1 applied; create_tenant: 1 applied; update_tenant: 1 stale; \(refused\): 1 rejected"/)
  t.match(res.body, /<rect class="outcome-stale"/)
  t.match(res.body, /<rect class="outcome-rejected"/)
  t.match(text, 'Quarantine 1 item')
  t.match(text, /Database ready: the database answers; all \d+ migrations applied/)
  t.match(text, 'Run run-1 (manual) Outcome succeeded')
  t.match(text, 'tenants 2 0 0 0')
  t.match(text, 'users 0 0 0 7')
  t.match(text, /Version 0\.1\.0/)
  t.match(text, /Change feed newest cursor [1-9]/)

  // A migration recorded as pending (as on a replica that started before the newest one): not ready.
  await app.repository.prisma.$executeRawUnsafe('DELETE FROM "_prisma_migrations" WHERE "migration_name" = \'20261202130000_console\'')
  t.match(mainText((await page(app, '/console/', cookie)).body), 'Database not ready: migrations pending: 20261202130000_console')
})

engineTest(t, 'events: newest first, filters by type, outcome, tenant, user and time, pages; an event\'s page shows what it wrote', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  await deliver(app, sample('create_tenant'))
  await deliver(app, sample('create_saas_user'))
  await deliver(app, sample('create_saas_user'))
  const tenantEvent = events.createTenant('t-2', { name: 'Acme Two' }, { time: at(1) })
  const userEvent = events.createUser('u-2', { email: 'two@example.com' }, { time: at(2) })
  const memberEvent = events.createTenantUser('t-2', 'u-2', {}, [{ id: 1, roles: ['admin'] }], { time: at(3) })
  for (const e of [tenantEvent, userEvent, memberEvent]) await deliver(app, e)

  const all = await page(app, '/console/events', cookie)
  t.equal(all.statusCode, 200)
  const ids = (html: string) => links(html, /^\/console\/events\/[^?]/).map(l => decodeURIComponent(l.slice('/console/events/'.length)))
  t.same(ids(all.body), [memberEvent.id, userEvent.id, tenantEvent.id, sample('create_saas_user').id, sample('create_tenant').id], 'newest first; a duplicate is not stored twice')
  t.match(all.body, /<option value="create_tenant_user">/, 'the type filter suggests the types this version knows')

  const filtered = async (query: string) => ids((await page(app, `/console/events?${query}`, cookie)).body)
  t.same(await filtered('type=create_tenant'), [tenantEvent.id, sample('create_tenant').id])
  t.same(await filtered('type=create_tenant&outcome=applied&tenant=&user=&from=&to='), [tenantEvent.id, sample('create_tenant').id], 'empty fields are no filter')
  t.same(await filtered('outcome=stale'), [])
  t.same(await filtered('type=some_future_type'), [], 'any type can be typed in')
  t.same(await filtered('tenant=t-2'), [memberEvent.id, tenantEvent.id], 'the events that changed the tenant (or a membership in it)')
  t.same(await filtered('user=u-2'), [memberEvent.id, userEvent.id])
  t.same(await filtered('user=u-2&type=create_saas_user'), [userEvent.id])
  t.same(await filtered('tenant=t-2&user=u-2'), [memberEvent.id])
  t.same(await filtered('tenant=nobody'), [])
  const minuteAgo = new Date(Date.now() - 60_000).toISOString().slice(0, 19)
  t.equal((await filtered(`from=${minuteAgo}`)).length, 5, 'received since a minute ago (datetime-local, read as UTC)')
  t.same(await filtered(`to=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`), [], 'received before a minute ago: none')
  const filteredPage = await page(app, '/console/events?tenant=t-2', cookie)
  t.match(filteredPage.body, /<input name="tenant" value="t-2"/, 'the form shows the filter')
  t.match((await page(app, '/console/events?outcome=applied', cookie)).body, '<option selected>applied</option>')
  t.match(mainText(filteredPage.body), 'finds every event about it, whatever its outcome')

  // An event's page: the envelope and the inner event as stored (redacted), the outcome, the rows it wrote.
  const one = await page(app, `/console/events/${encodeURIComponent(memberEvent.id)}`, cookie)
  t.equal(one.statusCode, 200)
  const text = mainText(one.body)
  t.match(text, `Event ${memberEvent.id}`)
  t.match(text, 'Type create_tenant_user Outcome applied')
  t.match(text, 'API call POST /v1/auth/tenants/t-2/users → 201')
  t.match(text, 'membership tenant_id=t-2 user_id=u-2 upsert')
  t.match(text, 'role_assignment tenant_id=t-2 user_id=u-2 env_id=1 role_name=admin upsert')
  t.same([...new Set(links(one.body, /^\/console\/(tenants|users)\//))].sort(), ['/console/tenants/t-2', '/console/users/u-2'])
  t.match(text, 'Inner event (decoded, secrets redacted)')
  t.match(text, '"api_key": "[REDACTED]"')
  t.notMatch(one.body, 'saasus-secret-api-key-sample', 'the SaaS\'s API key is redacted as stored')
  t.match(text, 'Envelope as stored')
  t.match(text, '"detail-type": "api_call"')
  const userPage = await page(app, `/console/events/${sample('create_saas_user').id}`, cookie)
  t.notMatch(userPage.body, 'sample_api_key_sample')
  t.match(mainText(userPage.body), '"password": "[REDACTED]"')
  const missing = await page(app, '/console/events/no-such-event', cookie)
  t.equal(missing.statusCode, 404)
  t.match(mainText(missing.body), 'No event no-such-event is recorded')
  const duplicate = await page(app, `/console/events/${encodeURIComponent(tenantEvent.id)}`, cookie)
  t.match(mainText(duplicate.body), 'user'.length > 0 ? 'tenant id=t-2 upsert' : '')
  // An event that wrote nothing visible: its resend under a new envelope id with the same log id is a
  // duplicate (not stored); a stale one is stored and wrote nothing.
  const stale = events.updateTenant('t-2', { name: 'Older name' }, { time: at(0) })
  t.equal(await deliver(app, stale), 'stale')
  t.match(mainText((await page(app, `/console/events/${encodeURIComponent(stale.id)}`, cookie)).body), 'None in the change feed')

  // Pages of 50, newest first, without overlap; the filter carries over.
  await batch(app, Array.from({ length: 55 }, (_, i) => events.createEnv(i + 10, `env-${i}`, { time: at(10 + i) })))
  const first = await page(app, '/console/events?type=create_env', cookie)
  const firstIds = ids(first.body)
  t.equal(firstIds.length, 50)
  const [older] = links(first.body, /^\/console\/events\?.*after=/)
  t.match(older, /type=create_env/)
  const second = await page(app, older, cookie)
  const secondIds = ids(second.body)
  t.equal(secondIds.length, 5)
  t.same(new Set([...firstIds, ...secondIds]).size, 55, 'no event twice, none left out')
  t.match(second.body, '<a href="/console/events?type=create_env">Newest</a>', 'a link back to the newest')
  t.same(links(second.body, /after=/), [], 'the last page has no next')
})

engineTest(t, 'events: a tenant or user filter finds every stored event about it, whatever its outcome, and the cascades the feed recorded', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const created = events.createTenant('t-x', { name: 'X' }, { time: at(10) })
  const stale = events.updateTenant('t-x', { name: 'Older' }, { time: at(1) })
  const failed = events.updateTenant('t-x', { name: 'Refused' }, { time: at(11), httpStatus: 403 })
  const member = events.createTenantUser('t-x', 'u-x', {}, [{ id: 1, roles: ['admin'] }], { time: at(12) })
  const other = events.createTenant('t-y', { name: 'Y' }, { time: at(13) })
  const otherMember = events.createTenantUser('t-y', 'u-y', {}, [], { time: at(14) })
  const userGone = events.deleteUser('u-x', { time: at(15) })
  const outcomes = []
  for (const e of [created, stale, failed, member, other, otherMember, userGone]) outcomes.push(await deliver(app, e))
  t.same(outcomes, ['applied', 'stale', 'ignored', 'applied', 'applied', 'applied', 'applied'])

  const ids = (html: string) => links(html, /^\/console\/events\/[^?]/).map(l => decodeURIComponent(l.slice('/console/events/'.length)))
  const filtered = async (query: string) => ids((await page(app, `/console/events?${query}`, cookie)).body).sort()
  const sorted = (...list: Array<Record<string, any>>) => list.map(e => e.id as string).sort()
  t.same(await filtered('tenant=t-x'), sorted(created, stale, failed, member, userGone),
    'the stale and the ignored event, the membership, and the user delete that hid the membership (through the feed)')
  t.same(await filtered('tenant=t-x&outcome=stale'), sorted(stale))
  t.same(await filtered('tenant=t-x&outcome=ignored'), sorted(failed))
  t.same(await filtered('user=u-x'), sorted(member, userGone), 'the membership event under its user too')
  t.same(await filtered('tenant=t-x&user=u-x'), sorted(member, userGone))
  t.same(await filtered('tenant=t-y'), sorted(other, otherMember), 'no event about another tenant')
  t.same(await filtered('tenant=t-x&type=update_tenant'), sorted(stale, failed))

  // A row stored before the subjects were recorded is still found through its change feed entries.
  await app.repository.prisma.$executeRaw`UPDATE "events" SET "tenant_id" = NULL, "user_id" = NULL WHERE "id" = ${member.id}`
  t.same(await filtered('tenant=t-x'), sorted(created, stale, failed, member, userGone))
  t.same(await filtered('user=u-x'), sorted(member, userGone))

  // Keyset pages through both matches: every event once, newest first, as the unpaged list.
  const reads = new ConsoleReads(app.repository)
  const walk = async (filter: EventFilter, limit: number) => {
    const seen: string[] = []
    let cursor: EventCursor | undefined
    for (let i = 0; i < 10; i++) {
      const { items, next } = await reads.events(filter, limit, cursor)
      seen.push(...items.map(e => e.id))
      if (next === null) return seen
      cursor = next
    }
    throw new Error('pages never end')
  }
  const whole = await walk({ tenant: 't-x' }, 50)
  t.equal(whole.length, 5)
  t.same(await walk({ tenant: 't-x' }, 2), whole, 'two at a time')
  t.same(await walk({ tenant: 't-x' }, 1), whole, 'one at a time')
  t.same(await walk({ tenant: 't-x', user: 'u-x' }, 1), await walk({ tenant: 't-x', user: 'u-x' }, 50))
})

engineTest(t, 'quarantine: list and pages, an item\'s field and reason, replay (CSRF-checked): recorded and removed, or kept with the new reason', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const invalid = { ...sample('create_tenant'), id: 'refused-1', detail: { event_type: 'create_tenant' } }
  t.equal((await postEvent(app, invalid)).statusCode, 400)
  // Valid today, refused by an older rule: kept as the intake keeps refused items (redacted).
  const valid = events.createTenant('t-9', { name: 'Replayed Tenant' }, { time: at(0) })
  await app.repository.quarantine([{ envelopeId: valid.id, field: '/detail', error: 'refused by an older rule', ...quarantineCopy(valid, { field: '', message: 'old' }) }])

  const list = await page(app, '/console/quarantine', cookie)
  t.equal(list.statusCode, 200)
  const items = links(list.body, /^\/console\/quarantine\/\d+$/)
  t.equal(items.length, 2)
  const [validItem, invalidItem] = items
  t.match(mainText(list.body), '2 items')
  t.match(mainText(list.body), 'refused by an older rule')

  const shown = await page(app, invalidItem, cookie)
  t.equal(shown.statusCode, 200)
  t.match(mainText(shown.body), /Field \/detail\/event Reason must have required property 'event'|Field \/detail/)
  t.match(mainText(shown.body), 'Envelope id refused-1')
  t.notMatch(shown.body, 'sample_api_key_sample', 'kept redacted')
  const csrf = csrfOf(shown.body)

  // CSRF: refused without the token or with a wrong one, and nothing happens.
  t.equal((await postForm(app, `${validItem}/replay`, {}, cookie)).statusCode, 403)
  t.equal((await postForm(app, `${validItem}/replay`, { csrf: 'x'.repeat(43) }, cookie)).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: `${validItem}/replay`, headers: { cookie } })).statusCode, 400, 'no body at all')
  t.equal(await app.repository.prisma.quarantinedEvent.count(), 2, 'nothing replayed')

  // Still invalid: stays, with today's reason.
  const id = Number(invalidItem.split('/').pop())
  await app.repository.prisma.quarantinedEvent.update({ where: { id }, data: { field: '/old', error: 'an old reason' } })
  const refused = await postForm(app, `${invalidItem}/replay`, { csrf }, cookie)
  t.equal(refused.statusCode, 200)
  t.match(mainText(refused.body), `quarantine item ${id}: still refused (body/detail`)
  t.match(mainText(refused.body), 'kept with this reason')
  const kept = await app.repository.prisma.quarantinedEvent.findUniqueOrThrow({ where: { id } })
  t.not(kept.error, 'an old reason', 'the new reason')
  t.match(kept.field, /^\/detail/)

  // Valid today: recorded and applied like a delivery, removed from the quarantine.
  const recorded = await postForm(app, `${validItem}/replay`, { csrf }, cookie)
  t.equal(recorded.statusCode, 200)
  t.match(mainText(recorded.body), `passes today's validation; recorded as event ${valid.id} (applied) and removed from the quarantine`)
  t.same(links(recorded.body, /^\/console\/events\//), [`/console/events/${valid.id}`])
  t.equal(await app.repository.prisma.quarantinedEvent.count(), 1)
  t.match(await app.repository.tenant('t-9'), { name: 'Replayed Tenant' }, 'applied')
  t.match(mainText((await page(app, `/console/events/${valid.id}`, cookie)).body), 'tenant id=t-9 upsert')
  t.match(await app.repository.prisma.event.findUnique({ where: { id: valid.id } }), { tenantId: 't-9', userId: null }, 'stored with the tenant it names')
  const again = await postForm(app, `${validItem}/replay`, { csrf }, cookie)
  t.equal(again.statusCode, 404, 'replayed already: gone')
  t.equal((await page(app, validItem, cookie)).statusCode, 404)

  // Pages of 50, newest first.
  await app.repository.quarantine(Array.from({ length: 55 }, (_, i) => ({ envelopeId: `e-${i}`, field: '', error: 'not an object', raw: i })))
  const first = await page(app, '/console/quarantine', cookie)
  const firstItems = links(first.body, /^\/console\/quarantine\/\d+$/)
  t.equal(firstItems.length, 50)
  const [older] = links(first.body, /before=/)
  const second = await page(app, older, cookie)
  const secondItems = links(second.body, /^\/console\/quarantine\/\d+$/)
  t.equal(secondItems.length, 6)
  t.equal(new Set([...firstItems, ...secondItems]).size, 56)
  t.match(second.body, '<a href="/console/quarantine">Newest</a>')
  t.match(mainText(second.body), '(body)', 'a refusal of the whole body')
})

engineTest(t, 'tenants and users: search by id, name or e-mail; pages with memberships, envs and roles, and the event that last changed each', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const tenant = events.createTenant('t-1', { name: 'Acme 100% Corp', back_office_staff_email: 'Staff@Acme.example' }, { time: at(0) })
  const rename = events.updateTenant('t-1', { name: 'Acme 100% Corp', back_office_staff_email: 'Staff@Acme.example' }, { time: at(5) })
  await batch(app, [tenant, rename, events.createTenant('t-2', { name: 'Other' }, { time: at(0) }), events.createUser('u-1', { email: 'Ann@Example.com' }, { time: at(1) }),
    events.createTenantUser('t-1', 'u-1', {}, [{ id: 1, roles: ['admin', 'viewer'] }, { id: 2, roles: ['viewer'] }, { id: 3, roles: [] }], { time: at(2) })])

  const search = async (kind: string, q: string) => links((await page(app, `/console/${kind}?q=${encodeURIComponent(q)}`, cookie)).body, new RegExp(`^/console/${kind}/`))
  t.same(await search('tenants', 'acme'), ['/console/tenants/t-1'], 'by name, any case')
  t.same(await search('tenants', 'staff@acme'), ['/console/tenants/t-1'], 'by back-office e-mail')
  t.same(await search('tenants', 't-2'), ['/console/tenants/t-2'], 'by id')
  t.same(await search('tenants', '100%'), ['/console/tenants/t-1'], 'a % is a character, not a wildcard')
  t.same(await search('tenants', '_'), [], 'so is _')
  t.same(await search('tenants', ''), ['/console/tenants/t-1', '/console/tenants/t-2'], 'an empty search lists all')
  t.same(await search('users', 'U-1@EXAMPLE'), ['/console/users/u-1'], 'by e-mail, any case')
  t.same(await search('users', 'nobody'), [])

  const tenantPage = await page(app, '/console/tenants/t-1', cookie)
  const text = mainText(tenantPage.body)
  t.match(text, 'Name Acme 100% Corp')
  t.match(text, 'Back-office e-mail Staff@Acme.example')
  t.match(text, `Last changed by ${rename.id}`, 'the newest event that wrote a field of the tenant')
  t.match(text, 'u-1 env 1: admin, viewer env 2: viewer env 3: no role', 'an env SaaSus listed with roles: [] shows without role')
  t.same(links(tenantPage.body, /^\/console\/events\?/), ['/console/events?tenant=t-1'])

  const userPage = await page(app, '/console/users/u-1', cookie)
  t.match(mainText(userPage.body), 'E-mail u-1@example.com', 'as the membership\'s event last set it')
  t.match(mainText(userPage.body), 't-1 env 1: admin, viewer env 2: viewer env 3: no role')
  t.same(links(userPage.body, /^\/console\/tenants\//), ['/console/tenants/t-1'])
  t.equal((await page(app, '/console/tenants/nobody', cookie)).statusCode, 404)
  t.equal((await page(app, '/console/users/nobody', cookie)).statusCode, 404)
  t.match(mainText((await page(app, '/console/users/nobody', cookie)).body), 'No user nobody')

  // What reconciliation wrote last is named as such.
  await app.repository.prisma.tenant.update({ where: { id: 't-2' }, data: { nameV: '009999999999999:-:reconcile:run-7' } })
  t.match(mainText((await page(app, '/console/tenants/t-2', cookie)).body), 'Last changed by reconciliation run run-7')

  // Paged: a tenant's users, a user's tenants, search results.
  const many = Array.from({ length: 52 }, (_, i) => `m-${String(i).padStart(2, '0')}`)
  await batch(app, many.flatMap((id, i) => [events.createUser(id, { email: `${id}@example.com` }, { time: at(10 + i) }),
    events.createTenant(id, { name: `Tenant ${id}` }, { time: at(10 + i) }),
    events.createTenantUser('t-1', id, {}, [], { time: at(80 + i) }),
    events.createTenantUser(id, 'u-1', {}, [], { time: at(80 + i) })]))
  for (const [url, pattern, total] of [['/console/tenants/t-1', /^\/console\/users\//, 53], ['/console/users/u-1', /^\/console\/tenants\/(t|m)-/, 53], ['/console/users?q=m-', /^\/console\/users\/m-/, 52]] as const) {
    const first = await page(app, url, cookie)
    const firstLinks = links(first.body, pattern)
    t.equal(firstLinks.length, 50, `${url}: a page of 50`)
    const [next] = links(first.body, /after=/)
    const second = await page(app, next, cookie)
    const secondLinks = links(second.body, pattern)
    t.equal(new Set([...firstLinks, ...secondLinks]).size, total, `${url}: the rest on the next page`)
    t.equal(links(second.body, /after=/).length, 0)
    t.equal(links(second.body, /./).filter(l => l === url.replace(/\?.*$/, '') || l === url).length > 0, true, 'a link back to the first page')
  }
  t.match(mainText((await page(app, '/console/users/m-00', cookie)).body), 'Tenants Tenant Envs and roles t-1 —', 'a membership without roles')
})
