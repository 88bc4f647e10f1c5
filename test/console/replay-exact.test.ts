import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, getJson, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events, makeEvent } from '../helpers/events.js'
import { CONSOLE_PASSWORD, csrfOf, mainText, page, postForm, signIn } from '../helpers/console.js'
import { quarantineCopy } from '../../src/events/quarantine-copy.js'
import { rememberText } from '../../src/events/received-text.js'
import { MAX_EVENT_VALUES } from '../../src/events/json-value.js'
import { replayQuarantined } from '../../src/console/replay.js'
import { ConsoleQuarantine } from '../../src/db/console/console-quarantine.js'

// Replay applies exactly what SaaSus sent, or refuses (issue 25, rows 1 and 2): the quarantine keeps each
// item's text as received with only SaaSus's secret fields replaced, and a replay runs every check a
// delivery runs. On SQLite and PostgreSQL.

const env = { CONSOLE_PASSWORD, MAX_FUTURE_SKEW_MS: '0' }
const secondsAhead = (s: number): string => new Date(Math.ceil(Date.now() / 1000) * 1000 + s * 1000).toISOString().replace('.000', '')

/** The newest quarantine item's id. */
async function newestItem (app: FastifyInstance): Promise<number> {
  return (await app.repository.prisma.quarantinedEvent.findFirstOrThrow({ orderBy: { id: 'desc' } })).id
}

/** Replays item `id` with the console's button; the notice it shows. */
async function replay (app: FastifyInstance, cookie: string, id: number): Promise<string> {
  const csrf = csrfOf((await page(app, `/console/quarantine/${id}`, cookie)).body)
  const res = await postForm(app, `/console/quarantine/${id}/replay`, { csrf }, cookie)
  t.equal(res.statusCode, 200)
  return mainText(res.body)
}

/** A create_tenant event with values a heuristic took for secrets, and a big integer, as text. */
function oddTenant (tenantId: string, time: string): string {
  const fields = {
    name: 'Secret Garden K.K.',
    back_office_staff_email: 'password-reset@example.com',
    attributes: { client_secret: 'cs-123', token: 'tk-1', note: 'my password is hunter2', big: '__BIG__', api_key: 'the SaaS\'s own data' }
  }
  const event = makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', httpStatus: 201, time, encoding: 'object', request: fields, response: { ...fields, id: tenantId, plan_histories: [] } })
  return JSON.stringify(event).replaceAll('"__BIG__"', '12345678901234567890')
}

engineTest(t, 'an item refused only for its time, replayed once valid, applies what was sent: read API, inbox and /changes', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const time = secondsAhead(2)
  const sent = oddTenant('t-odd', time)
  const refused = await postEvent(app, sent)
  t.equal(refused.statusCode, 400)
  t.match(refused.json().message, /^body\/time is \d+ s ahead of this host's clock/)
  const id = await newestItem(app)
  const row = await app.repository.prisma.quarantinedEvent.findUniqueOrThrow({ where: { id } })
  t.notMatch(row.original, 'saasus-secret-api-key-sample', 'SaaSus\'s api_key is not kept')
  t.notMatch(JSON.stringify(row.raw), 'saasus-secret-api-key-sample')
  t.equal(row.original, sent.replace('"saasus-secret-api-key-sample"', '"[REDACTED]"'), 'every other character as sent')
  t.match(mainText((await page(app, `/console/quarantine/${id}`, cookie)).body), 'Secret Garden K.K.', 'shown as sent (escaped by the view)')

  t.match(await replay(app, cookie, id), /still refused \(body\/time is \d+ s ahead/, 'not yet valid: refused, kept')
  await new Promise(resolve => setTimeout(resolve, Date.parse(time) - Date.now() + 50))
  t.match(await replay(app, cookie, id), /passes today's validation; recorded as event .* \(applied\) and removed from the quarantine/)

  // The same event delivered directly, for the state it gives.
  const direct = oddTenant('t-direct', new Date().toISOString().replace(/\.\d+Z$/, 'Z'))
  t.equal((await postEvent(app, direct)).statusCode, 200)
  const [replayed, delivered] = [(await getJson(app, '/tenants/t-odd')).json(), (await getJson(app, '/tenants/t-direct')).json()]
  t.match(replayed, { name: 'Secret Garden K.K.', back_office_staff_email: 'password-reset@example.com' })
  t.same(replayed.attributes, { client_secret: 'cs-123', token: 'tk-1', note: 'my password is hunter2', big: 12345678901234567000, api_key: 'the SaaS\'s own data' })
  t.same(replayed.attributes, delivered.attributes, 'as a direct delivery')

  const feed = (await getJson(app, '/changes?after=0&limit=100')).json().entries as Array<{ entity: string, key: { id?: string }, fields: Record<string, unknown> }>
  const entry = feed.find(e => e.entity === 'tenant' && e.key.id === 't-odd')
  t.match(entry?.fields, { name: 'Secret Garden K.K.', back_office_staff_email: 'password-reset@example.com' }, '/changes shows what was sent')
  t.notMatch(JSON.stringify(feed), '[REDACTED]', 'nothing rewritten on /changes')

  const inbox = await app.repository.prisma.event.findFirstOrThrow({ where: { tenantId: 't-odd' } })
  const stored = JSON.stringify(inbox.raw)
  t.match(stored, '"api_key":"[REDACTED]"', 'the inbox keeps SaaSus\'s api_key redacted')
  t.notMatch(stored, 'saasus-secret-api-key-sample')
  t.match(stored, '"client_secret":"cs-123"', 'and the SaaS\'s data as sent')

  // Rebuilding from the inbox gives the same state back.
  await app.repository.rebuild()
  t.same((await getJson(app, '/tenants/t-odd')).json(), replayed, 'rebuild applies what was sent too')
})

engineTest(t, 'values intake refuses (1e309, U+0000, a lone surrogate) are kept exactly and refused again by replay', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const time = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
  for (const [name, value] of [['1e309', '1e309'], ['U+0000', '"a\\u0000b"'], ['a lone surrogate', '"a\\ud800b"']]) {
    const text = JSON.stringify(events.createTenant(`t-${name}`, { name: 'n', attributes: { odd: '__ODD__' } }, { time, encoding: 'object' })).replaceAll('"__ODD__"', value)
    const intake = await postEvent(app, text)
    t.equal(intake.statusCode, 400, name)
    const id = await newestItem(app)
    const row = await app.repository.prisma.quarantinedEvent.findUniqueOrThrow({ where: { id } })
    t.match(row.original, `"odd":${value}`, `${name}: kept as written`)
    const notice = await replay(app, cookie, id)
    t.match(notice, `still refused (${intake.json().message})`, `${name}: replay refuses it with the intake's reason`)
    t.equal((await getJson(app, `/tenants/t-${name}`)).statusCode, 404, `${name}: nothing applied`)
  }
  t.same((await getJson(app, '/changes?after=0&limit=10')).json().entries, [], 'nothing on /changes')
})

engineTest(t, 'a 1,000,000-value item is refused by replay with the intake\'s reason; so is one over MAX_EVENT_VALUES or BODY_LIMIT, and one an older version kept', async (t, engine) => {
  const { app } = await buildApp(t, env, engine)
  const cookie = await signIn(app)
  const time = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
  const million = `[${new Array(1_000_000).fill(0).join(',')}]`
  const outer = JSON.stringify(events.createTenant('t-big', { name: 'n' }, { time })).replace('"resources":[]', `"resources":${million}`)
  const nested = JSON.stringify({ ...events.createTenant('t-big', { name: 'n' }, { time }), detail: { event_type: 'create_tenant', event: million } })
  for (const [name, text] of [['in the body', outer], ['in detail.event', nested]]) {
    const intake = await postEvent(app, text)
    t.equal(intake.statusCode, 400, name)
    t.match(intake.json().message, 'MAX_EVENT_VALUES')
    const id = await newestItem(app)
    const row = await app.repository.prisma.quarantinedEvent.findUniqueOrThrow({ where: { id } })
    t.equal(row.original, null, `${name}: kept as a description`)
    t.ok(row.size < 5000, `${name}: a small row (${row.size} bytes)`)
    t.match(mainText((await page(app, `/console/quarantine/${id}`, cookie)).body), 'Not replayable')
    const notice = await replay(app, cookie, id)
    t.match(notice, `cannot be replayed exactly (${intake.json().message}; `, `${name}: refused with the intake's reason`)
    t.equal((await app.repository.prisma.quarantinedEvent.count({ where: { id } })), 1, 'kept')
  }
  t.equal((await getJson(app, '/tenants/t-big')).statusCode, 404, 'nothing applied')

  // Kept with its text (not through the intake): replay counts and measures it as the body parser does.
  const quarantine = new ConsoleQuarantine(app.repository)
  const replayer = { repository: app.repository, quarantine, log: { info: () => {} }, clock: () => ({ now: Date.now(), maxFutureSkewMs: 0 }), bodyLimit: 4096 }
  const wide = events.createTenant('t-wide', { name: 'n', attributes: Object.fromEntries(Array.from({ length: MAX_EVENT_VALUES }, (_, i) => [`a${i}`, i])) }, { time, encoding: 'object' })
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'old', ...quarantineCopy(wide, { field: '', message: 'old' }) }])
  t.match(await replayQuarantined({ ...replayer, bodyLimit: 10_000_000 }, await newestItem(app)), { result: 'refused', field: '', message: /^holds \d+ values .*MAX_EVENT_VALUES/ })
  const long = events.createTenant('t-long', { name: 'x'.repeat(5000) }, { time })
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'old', ...quarantineCopy(long, { field: '', message: 'old' }) }])
  t.match(await replayQuarantined(replayer, await newestItem(app)), { result: 'refused', field: '', message: /^is \d+ bytes: larger than BODY_LIMIT \(4096\)$/ })
  const broken = rememberText({ id: 'broken' }, '{"id":"broken"')
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'old', ...quarantineCopy(broken, { field: '', message: 'old' }) }])
  t.match(await replayQuarantined(replayer, await newestItem(app)), { result: 'refused', message: /^Body is not valid JSON/ })

  // A row an older version kept (a redacted copy only): never replayed.
  await app.repository.quarantine([{ envelopeId: 'old', field: '/time', error: 'an old reason', raw: { id: 'old', name: '[REDACTED] (18 characters that mention a secret)' } }])
  const old = await newestItem(app)
  t.match(await replay(app, cookie, old), `quarantine item ${old}: cannot be replayed exactly (the item as received was not kept); kept as it is`)
  t.match(await app.repository.prisma.quarantinedEvent.findUniqueOrThrow({ where: { id: old } }), { field: '/time', error: 'an old reason' }, 'kept with its reason')
})
