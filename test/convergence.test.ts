import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, deliver, getJson } from './helpers/app.js'
import { engineTest } from './helpers/engines.js'
import { events } from './helpers/events.js'

// The final state must not depend on the order or number of deliveries.

type Build = (ids: { tenant: string, user: string }) => Array<Record<string, any>>

/**
 * Envelope ids that sort like the events' positions, the same in every run, so that a same-second tie
 * has the same winner whichever copy of the history is delivered: the later position wins.
 */
const numbered = (list: Array<Record<string, any>>, tag: string) =>
  list.map((e, k) => ({ ...e, id: `evt-${String(k).padStart(2, '0')}-${tag}` }))

/** A history touching one tenant and one user with every projected call, including same-second ties. */
const history: Build = ({ tenant, user }) => numbered([
  events.createTenant(tenant, { name: 'v1', attributes: { plan: 'free' } }, { time: '2026-05-19T10:00:00Z' }),
  events.updateTenant(tenant, { name: 'v2', attributes: { plan: 'pro' }, back_office_staff_email: 'a@example.com' }, { time: '2026-05-19T10:00:05Z' }),
  // Same second as the previous update: the envelope id breaks the tie.
  events.updateTenant(tenant, { name: 'v3', attributes: { plan: 'team' } }, { time: '2026-05-19T10:00:05Z' }),
  events.createUser(user, { email: 'u1@example.com', attributes: { lang: 'ja' } }, { time: '2026-05-19T10:00:00Z' }),
  events.updateUserEmail(user, 'u2@example.com', { time: '2026-05-19T10:00:03Z' }),
  events.updateUserAttributes(user, { lang: 'en' }, { time: '2026-05-19T10:00:04Z' }),
  // Same second as the email change: PATCH ranks above POST, so this create's email loses to it.
  events.createUser(user, { email: 'late@example.com' }, { time: '2026-05-19T10:00:03Z' })
], tenant)

/** A history with deletes: tombstones, a resurrection and a delete tied with an update. */
const withDeletes: Build = ({ tenant, user }) => numbered([
  events.createTenant(tenant, { name: 'born' }, { time: '2026-05-19T10:00:00Z' }),
  events.deleteTenant(tenant, { time: '2026-05-19T10:00:02Z' }),
  events.updateTenant(tenant, { name: 'edited after delete' }, { time: '2026-05-19T10:00:01Z' }),
  events.createTenant(tenant, { name: 'reborn' }, { time: '2026-05-19T10:00:03Z' }),
  events.createUser(user, { email: 'u@example.com' }, { time: '2026-05-19T10:00:00Z' }),
  events.updateUserEmail(user, 'same-second@example.com', { time: '2026-05-19T10:00:01Z' }),
  // DELETE ranks above PATCH within one second: the user stays deleted.
  events.deleteUser(user, { time: '2026-05-19T10:00:01Z' })
], tenant)

async function state (app: FastifyInstance, ids: { tenant: string, user: string }): Promise<unknown> {
  const read = async (url: string) => {
    const res = await getJson(app, url)
    if (res.statusCode === 404) return 'absent'
    const { id, ...rest } = res.json()
    return rest
  }
  return { tenant: await read(`/tenants/${ids.tenant}`), user: await read(`/users/${ids.user}`) }
}

function permutations<T> (items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map(rest => [item, ...rest]))
}

let run = 0
const freshIds = () => { run++; return { tenant: `tenant-${run}`, user: `user-${run}` } }

for (const [name, build] of [['updates', history], ['deletes', withDeletes]] as const) {
  engineTest(t, `${name}: every pair of events gives the same state in both orders`, async (t, engine) => {
    const { app } = await buildApp(t, {}, engine)
    const size = build(freshIds()).length
    for (let i = 0; i < size; i++) {
      for (let j = i + 1; j < size; j++) {
        const forward = freshIds()
        const backward = freshIds()
        const f = build(forward)
        const b = build(backward)
        await deliver(app, f[i]); await deliver(app, f[j])
        await deliver(app, b[j]); await deliver(app, b[i])
        t.same(await state(app, backward), await state(app, forward), `events ${i} and ${j}`)
      }
    }
  })

  engineTest(t, `${name}: shuffled deliveries with duplicates reach the in-order state`, async (t, engine) => {
    const { app } = await buildApp(t, {}, engine)
    const inOrder = freshIds()
    for (const e of build(inOrder)) await deliver(app, e)
    const expected = await state(app, inOrder)

    // A fixed-seed shuffle (a linear congruential generator) keeps failures reproducible.
    let seed = 42
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    for (let round = 0; round < 25; round++) {
      const ids = freshIds()
      const list = build(ids)
      const deliveries = [...list, ...list.filter(() => random() < 0.4)]
      for (let k = deliveries.length - 1; k > 0; k--) {
        const r = Math.floor(random() * (k + 1));
        [deliveries[k], deliveries[r]] = [deliveries[r], deliveries[k]]
      }
      for (const e of deliveries) await deliver(app, e)
      t.same(await state(app, ids), expected, `round ${round}`)
    }
  })
}

engineTest(t, 'all 120 orders of five updates to one tenant converge, ties included', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const build = (tenant: string) => [
    events.createTenant(tenant, { name: 'created' }, { time: '2026-05-19T10:00:00Z' }),
    events.updateTenant(tenant, { name: 'a' }, { time: '2026-05-19T10:00:01Z', id: 'aaaa-same-second' }),
    events.updateTenant(tenant, { name: 'b' }, { time: '2026-05-19T10:00:01Z', id: 'bbbb-same-second' }),
    events.updateTenant(tenant, { name: 'c', back_office_staff_email: 'c@example.com' }, { time: '2026-05-19T10:00:01.500Z' }),
    events.createTenant(tenant, { name: 'late create' }, { time: '2026-05-19T09:59:59Z' })
  ]
  const orders = permutations([0, 1, 2, 3, 4])
  t.equal(orders.length, 120)
  for (const [n, order] of orders.entries()) {
    const tenant = `perm-${n}`
    const list = build(tenant)
    // Envelope ids must be unique across permutations; keep their relative order for the tie.
    for (const e of list) e.id = `${e.id}-${n}`
    for (const k of order) await deliver(app, list[k])
    const res = (await getJson(app, `/tenants/${tenant}`)).json()
    if (res.name !== 'c' || res.back_office_staff_email !== 'c@example.com') {
      t.fail(`order ${order.join(',')} ended with ${JSON.stringify(res)}`)
      return
    }
  }
  t.pass('every order ends with the newest update')
})

engineTest(t, 'expected final states, and what each delivery reports', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const ids = freshIds()
  const list = history(ids)
  // Deliver newest first: the older ones are stale or partly applied.
  t.equal(await deliver(app, list[2]), 'applied')
  t.equal(await deliver(app, list[1]), 'stale', 'same second, smaller envelope id: loses the tie')
  t.equal(await deliver(app, list[0]), 'stale', 'every field of the create is older')
  t.equal(await deliver(app, list[0]), 'duplicate')
  t.match((await getJson(app, `/tenants/${ids.tenant}`)).json(), {
    name: 'v3', attributes: { plan: 'team' }, back_office_staff_email: 'staff@example.com', updated_at: '2026-05-19T10:00:05.000Z'
  })

  t.equal(await deliver(app, list[5]), 'applied', 'an attribute update before the user exists creates the row')
  t.equal(await deliver(app, list[4]), 'applied')
  t.equal(await deliver(app, list[3]), 'applied', 'the create still brings sign_in_id')
  t.equal(await deliver(app, list[6]), 'applied')
  t.same((await getJson(app, `/users/${ids.user}`)).json(), {
    id: ids.user, email: 'u2@example.com', sign_in_id: '', attributes: { lang: 'en' }, updated_at: '2026-05-19T10:00:04.000Z'
  }, 'two partial updates in the wrong order both land')
})

engineTest(t, 'deletes leave tombstones that older writes cannot pass', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const ids = freshIds()
  const [create, del, staleUpdate, reborn, createUser, emailTie, deleteUser] = withDeletes(ids)
  t.equal(await deliver(app, del), 'applied', 'a delete for an unknown tenant leaves a tombstone')
  t.equal((await getJson(app, `/tenants/${ids.tenant}`)).statusCode, 404)
  t.equal(await deliver(app, create), 'stale', 'an older create does not bring it back')
  t.equal(await deliver(app, staleUpdate), 'stale', 'nor does an older update')
  t.equal((await getJson(app, `/tenants/${ids.tenant}`)).statusCode, 404)
  t.equal(await deliver(app, reborn), 'applied', 'a newer create does')
  t.match((await getJson(app, `/tenants/${ids.tenant}`)).json(), { name: 'reborn' })

  t.equal(await deliver(app, createUser), 'applied')
  t.equal(await deliver(app, deleteUser), 'applied')
  t.equal(await deliver(app, emailTie), 'stale', 'a PATCH in the same second as the DELETE loses')
  t.equal((await getJson(app, `/users/${ids.user}`)).statusCode, 404)

  const update = events.updateUserEmail(ids.user, 'back@example.com', { time: '2026-05-19T11:00:00Z' })
  t.equal(await deliver(app, update), 'applied', 'a newer update brings the user back')
  t.same((await getJson(app, `/users/${ids.user}`)).json(), {
    id: ids.user, email: 'back@example.com', sign_in_id: null, attributes: null, updated_at: '2026-05-19T11:00:00.000Z'
  }, 'fields the delete cleared stay cleared')
})
