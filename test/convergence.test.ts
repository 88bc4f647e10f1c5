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
  events.createUser(user, { email: 'u@example.com', attributes: { lang: 'ja' } }, { time: '2026-05-19T10:00:00Z' }),
  events.updateUserEmail(user, 'same-second@example.com', { time: '2026-05-19T10:00:01Z' }),
  // DELETE ranks above PATCH within one second: the user stays deleted.
  events.deleteUser(user, { time: '2026-05-19T10:00:01Z' })
], tenant)

/**
 * Memberships, roles and tenant-scoped attributes with every cascade: a tenant user deleted and created
 * again, roles assigned before and after, a plan reservation and billing info, attribute keys written as null.
 */
const withMemberships: Build = ({ tenant, user }) => numbered([
  events.createTenant(tenant, { name: 't', attributes: { tier: 'gold', region: 'jp' } }, { time: '2026-05-19T10:00:00Z' }),
  events.createUser(user, { email: 'm@example.com' }, { time: '2026-05-19T10:00:00Z' }),
  events.createTenantUser(tenant, user, { dept: 'dev', level: 1 }, [{ id: 1, roles: ['admin'] }], { time: '2026-05-19T10:00:01Z' }),
  events.createTenantUserRoles(tenant, user, 2, ['viewer', 'editor'], { time: '2026-05-19T10:00:02Z' }),
  events.updateTenantUser(tenant, user, { level: 2, dept: null }, { time: '2026-05-19T10:00:03Z' }),
  events.deleteTenantUserRole(tenant, user, 2, 'editor', { time: '2026-05-19T10:00:03Z' }),
  events.updateTenant(tenant, { name: 't2', attributes: { region: null, size: 'L' } }, { time: '2026-05-19T10:00:03Z' }),
  events.updateTenantPlan(tenant, { next_plan_id: 'plan-pro', using_next_plan_from: 2000000000 }, { time: '2026-05-19T10:00:04Z' }),
  events.updateTenantBillingInfo(tenant, 'ACME', { time: '2026-05-19T10:00:04Z' }),
  events.updateUserSignInId(user, 'member-1', { time: '2026-05-19T10:00:04Z' })
], tenant)

/** The same membership deleted, then created again with new roles; older roles must stay hidden. */
const membershipRecreated: Build = ({ tenant, user }) => numbered([
  events.createTenant(tenant, { name: 't' }, { time: '2026-05-19T10:00:00Z' }),
  events.createUser(user, { email: 'r@example.com' }, { time: '2026-05-19T10:00:00Z' }),
  events.createTenantUser(tenant, user, { old: true }, [{ id: 1, roles: ['admin'] }], { time: '2026-05-19T10:00:01Z' }),
  events.deleteTenantUser(tenant, user, { time: '2026-05-19T10:00:02Z' }),
  events.createTenantUserRoles(tenant, user, 1, ['viewer'], { time: '2026-05-19T10:00:03Z' }),
  events.createTenantUser(tenant, user, { fresh: true }, [], { time: '2026-05-19T10:00:04Z' })
], tenant)

/** The read API's view of one history's tenant and user, with that run's ids replaced by placeholders. */
async function state (app: FastifyInstance, ids: { tenant: string, user: string }): Promise<unknown> {
  const read = async (url: string) => {
    const res = await getJson(app, url)
    return res.statusCode === 404 ? 'absent' : res.json()
  }
  const text = JSON.stringify({ tenant: await read(`/tenants/${ids.tenant}`), user: await read(`/users/${ids.user}`) })
  return JSON.parse(text.split(ids.tenant).join('TENANT').split(ids.user).join('USER'))
}

function permutations<T> (items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map(rest => [item, ...rest]))
}

let run = 0
const freshIds = () => { run++; return { tenant: `tenant-${run}`, user: `user-${run}` } }

for (const [name, build] of [['updates', history], ['deletes', withDeletes], ['memberships', withMemberships], ['membership recreated', membershipRecreated]] as const) {
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
  t.equal(await deliver(app, list[0]), 'applied', 'older, but it brings plan_histories, which nothing newer wrote')
  t.equal(await deliver(app, list[0]), 'duplicate')
  t.match((await getJson(app, `/tenants/${ids.tenant}`)).json(), {
    name: 'v3', attributes: { plan: 'team' }, back_office_staff_email: 'staff@example.com', updated_at: '2026-05-19T10:00:05.000Z'
  })

  t.equal(await deliver(app, list[5]), 'applied', 'an attribute update before the user exists creates the row')
  t.equal(await deliver(app, list[4]), 'applied')
  t.equal(await deliver(app, list[3]), 'applied', 'the create still brings sign_in_id')
  t.equal(await deliver(app, list[6]), 'applied')
  t.same((await getJson(app, `/users/${ids.user}`)).json(), {
    id: ids.user, email: 'u2@example.com', sign_in_id: '', attributes: { lang: 'en' }, tenants: [], updated_at: '2026-05-19T10:00:04.000Z'
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
    id: ids.user, email: 'back@example.com', sign_in_id: null, attributes: {}, tenants: [], updated_at: '2026-05-19T11:00:00.000Z'
  }, 'fields and attributes the delete cleared stay cleared')
})

engineTest(t, 'memberships, roles and tenant-scoped attributes read back', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const ids = freshIds()
  for (const e of withMemberships(ids)) await deliver(app, e)
  t.same((await getJson(app, `/users/${ids.user}`)).json(), {
    id: ids.user,
    email: `${ids.user}@example.com`, // create_tenant_user's response is newer than create_saas_user's
    sign_in_id: 'member-1',
    attributes: {},
    tenants: [{
      tenant_id: ids.tenant,
      attributes: { dept: null, level: 2 }, // a key written as null is kept as null (SaaSus's definition)
      envs: [{ env_id: 1, roles: ['admin'] }, { env_id: 2, roles: ['viewer'] }]
    }],
    updated_at: '2026-05-19T10:00:04.000Z'
  })
  t.match((await getJson(app, `/tenants/${ids.tenant}`)).json(), {
    id: ids.tenant,
    name: 't2',
    attributes: { size: 'L', tier: 'gold' },
    next_plan: { next_plan_id: 'plan-pro', using_next_plan_from: 2000000000, next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null },
    billing_info: { name: 'ACME', invoice_language: 'ja' },
    users: [ids.user]
  })

  const again = freshIds()
  for (const e of membershipRecreated(again)) await deliver(app, e)
  t.same((await getJson(app, `/users/${again.user}`)).json().tenants, [
    { tenant_id: again.tenant, attributes: { fresh: true }, envs: [{ env_id: 1, roles: ['viewer'] }] }
  ], 'only roles and attributes written after the membership was deleted')
})

engineTest(t, 'cascades: deleting a tenant or a user hides what was written before, not after', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const { tenant, user } = freshIds()
  const other = `${user}-other`
  const list = [
    events.createTenant(tenant, { name: 't' }, { time: '2026-05-19T10:00:00Z' }),
    events.createUser(user, { email: 'a@example.com' }, { time: '2026-05-19T10:00:00Z' }),
    events.createUser(other, { email: 'b@example.com' }, { time: '2026-05-19T10:00:00Z' }),
    events.createTenantUser(tenant, user, { a: 1 }, [{ id: 1, roles: ['admin'] }], { time: '2026-05-19T10:00:01Z' }),
    events.deleteTenant(tenant, { time: '2026-05-19T10:00:02Z' }),
    events.createTenantUser(tenant, other, {}, [{ id: 1, roles: ['viewer'] }], { time: '2026-05-19T10:00:03Z' }),
    // The tenant comes back (a newer create): only the membership written after the delete shows.
    events.createTenant(tenant, { name: 'back' }, { time: '2026-05-19T10:00:04Z' })
  ]
  // Deliver in reverse: the late, older events must not resurrect anything.
  for (const e of [...list].reverse()) await deliver(app, e)
  t.same((await getJson(app, `/tenants/${tenant}`)).json().users, [other])
  t.same((await getJson(app, `/users/${user}`)).json().tenants, [])
  t.same((await getJson(app, `/users/${other}`)).json().tenants, [{ tenant_id: tenant, attributes: {}, envs: [{ env_id: 1, roles: ['viewer'] }] }])

  await deliver(app, events.deleteUser(other, { time: '2026-05-19T10:00:05Z' }))
  t.same((await getJson(app, `/tenants/${tenant}`)).json().users, [], 'a deleted user is no member')
  await deliver(app, events.createUser(other, { email: 'b2@example.com' }, { time: '2026-05-19T10:00:06Z' }))
  t.same((await getJson(app, `/users/${other}`)).json().tenants, [], 'and coming back does not bring the old membership')
})

engineTest(t, 'a membership that arrives before its user and tenant shows once they exist', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const { tenant, user } = freshIds()
  await deliver(app, events.createTenantUserRoles(tenant, user, 5, ['owner'], { time: '2026-05-19T10:00:03Z' }))
  await deliver(app, events.createTenantUser(tenant, user, { k: 'v' }, [], { time: '2026-05-19T10:00:02Z' }))
  t.equal((await getJson(app, `/users/${user}`)).statusCode, 200, 'create_tenant_user makes the user known')
  t.same((await getJson(app, `/users/${user}`)).json().tenants, [], 'but the tenant does not exist yet')
  t.equal((await getJson(app, `/tenants/${tenant}`)).statusCode, 404)
  await deliver(app, events.createTenant(tenant, { name: 't' }, { time: '2026-05-19T10:00:00Z' }))
  t.same((await getJson(app, `/users/${user}`)).json().tenants, [{ tenant_id: tenant, attributes: { k: 'v' }, envs: [{ env_id: 5, roles: ['owner'] }] }])
  t.same((await getJson(app, `/tenants/${tenant}`)).json().users, [user])
})
