import t from 'tap'
import { engineTest } from '../helpers/engines.js'
import { buildApp, deliver, getJson } from '../helpers/app.js'
import { events } from '../helpers/events.js'

const time = '2026-05-19T02:22:58Z'

engineTest(t, 'GET /tenants and GET /users list visible rows with cursor pagination', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  for (const id of ['t-a', 't-b', 't-c', 't-d', 't-e']) await deliver(app, events.createTenant(id, { name: id }, { time }))
  await deliver(app, events.deleteTenant('t-c', { time: '2026-05-19T02:23:00Z' }))
  for (const id of ['u-a', 'u-b']) await deliver(app, events.createUser(id, { email: `${id}@x` }, { time }))
  await deliver(app, events.createTenantUser('t-a', 'u-b', { role: 'x' }, [{ id: 1, roles: ['admin'] }], { time }))

  const names: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await getJson(app, `/tenants?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    t.equal(res.statusCode, 200)
    const page = res.json()
    t.ok(page.items.length <= 2)
    names.push(...page.items.map((i: { name: string }) => i.name))
    cursor = page.next_cursor
    pages++
  } while (cursor !== null)
  t.same(names, ['t-a', 't-b', 't-d', 't-e'], 'sorted by id, deleted rows left out')
  t.equal(pages, 2)

  const all = (await getJson(app, '/tenants')).json()
  t.equal(all.next_cursor, null)
  t.same(all.items[0].users, ['u-b'])
  const users = (await getJson(app, '/users?limit=1')).json()
  t.same(users.items.map((u: { id: string }) => u.id), ['u-a'])
  t.equal(users.next_cursor, 'u-a')
  const rest = (await getJson(app, '/users?limit=1&cursor=u-a')).json()
  t.same(rest, { items: [(await getJson(app, '/users/u-b')).json()], next_cursor: null }, 'list items are the full views')

  for (const query of ['limit=0', 'limit=201', 'limit=x', 'cursor=']) {
    const res = await getJson(app, `/tenants?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request' })
  }
})
