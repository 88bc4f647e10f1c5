import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { engineTest } from './helpers/engines.js'
import { buildApp, postEvent } from './helpers/app.js'
import { events } from './helpers/events.js'
import { entitySteps, type Step } from './helpers/history-steps.js'
import { Fold, readState, sorted, type Entry } from './helpers/feed.js'

// Property: for generated histories delivered shuffled, repeated and batched (with deletes that cascade,
// revivals, attribute removals, role and env definitions, and now and then a rebuild), a consumer that
// folds the change feed from the beginning holds exactly the state the read API shows; no entry changes
// nothing in its copy, and no entry is caused by an event that was stale, a duplicate or ignored.
//
// Runs FEED_PROPERTY_RUNS cases (default 25); e.g. `FEED_PROPERTY_RUNS=500 npx tap test/feed-property.test.ts`.

const RUNS = Number(process.env.FEED_PROPERTY_RUNS ?? 25)
const BASE = Date.parse('2026-05-19T10:00:00Z')
const tenant = fc.constantFrom('t0', 't1')
const user = fc.constantFrom('u0', 'u1', 'u2')
const env = fc.constantFrom(1, 2)
const role = fc.constantFrom('admin', 'viewer')
const attributes = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(null)), { maxKeys: 3 })
const name = fc.constantFrom('n1', 'n2')

const step: fc.Arbitrary<Step> = fc.oneof(
  ...entitySteps({ tenant, user, env, role, roles: ['admin', 'viewer'], attributes, name }),
  user.map((u): Step => (ns, o) => events.updateUserPassword(`${ns}${u}`, o)),
  fc.tuple(role, name).map(([r, n]): Step => (ns, o) => events.createRole(`${ns}${r}`, n, o)),
  fc.tuple(role, name).map(([r, n]): Step => (ns, o) => events.updateRole(`${ns}${r}`, n, o)),
  role.map((r): Step => (ns, o) => events.deleteRole(`${ns}${r}`, o)),
  fc.tuple(env, name).map(([e, n]): Step => (_ns, o) => events.updateEnv(e, n, o)),
  // A failed call: recorded, changes nothing.
  fc.tuple(tenant, name).map(([t, n]): Step => (ns, o) => events.updateTenant(`${ns}${t}`, { name: n }, { ...o, httpStatus: 400 }))
)

const history = fc.array(fc.record({ step, second: fc.integer({ min: 0, max: 4 }), id: fc.uuid() }), { minLength: 1, maxLength: 14 })
const delivery = (size: number) => fc.record({
  order: fc.shuffledSubarray([...Array(size).keys()], { minLength: size, maxLength: size }),
  repeats: fc.array(fc.nat(size - 1), { maxLength: 4 }),
  cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: size + 4, maxLength: size + 4 }),
  rebuild: fc.boolean()
})

async function send (app: FastifyInstance, list: Array<Record<string, any>>): Promise<void> {
  const res = await postEvent(app, list.length === 1 ? list[0] : list)
  if (res.statusCode !== 200) throw new Error(`delivery failed: ${res.statusCode} ${res.body}`)
}

/** Role and env definitions the database shows (they have no read route). */
async function definitions (app: FastifyInstance): Promise<unknown> {
  const roles = await app.repository.prisma.role.findMany({ where: { live: true }, orderBy: { roleName: 'asc' } })
  const envs = await app.repository.prisma.env.findMany({ where: { live: true }, orderBy: { id: 'asc' } })
  return {
    roles: roles.map(r => ({ role_name: r.roleName, display_name: r.displayName })),
    envs: envs.map(e => ({ id: Number(e.id), name: e.name, display_name: e.displayName }))
  }
}

engineTest(t, `folding the feed reproduces the read API after any delivery (${RUNS} histories)`, async (t, engine) => {
  const { app } = await buildApp(t, { LOG_LEVEL: 'warn' }, engine)
  const fold = new Fold()
  let run = 0
  let entries = 0
  await fc.assert(fc.asyncProperty(
    history.chain(h => fc.tuple(fc.constant(h), delivery(h.length))),
    async ([steps, plan]) => {
      run++
      const ns = `f${run}-`
      const list = steps.map(({ step, second, id }, i) =>
        step(ns, { time: new Date(BASE + run * 60_000 + second * 1000).toISOString(), id: `${id}-${i}-${ns}` }))
      const sequence = [...plan.order, ...plan.repeats].map(i => list[i])
      for (let k = 0, c = 0; k < sequence.length; c++) {
        const size = plan.cuts[c % plan.cuts.length]
        await send(app, sequence.slice(k, k + size))
        k += size
      }
      if (plan.rebuild) await app.repository.rebuild()
      // Reservations whose instant has passed show in the read API at once, in the feed once recorded.
      await app.planActivator.runDue()

      const from = fold.after
      const idle = await fold.follow(app, 7)
      if (idle.length > 0) throw new Error(`entries that changed nothing: ${JSON.stringify(idle)}`)
      const expected = sorted({ ...await readState(app), ...await definitions(app) as object })
      const folded = fold.render()
      const actual = sorted({
        ...folded,
        roles: fold.of('role').map(r => ({ role_name: r.key.role_name, ...r.fields })).sort((a, b) => a.role_name < b.role_name ? -1 : 1),
        envs: fold.of('env').map(e => ({ id: e.key.id, ...e.fields })).sort((a, b) => (a.id as number) - (b.id as number))
      })
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(`fold differs:\nexpected ${JSON.stringify(expected)}\nactual   ${JSON.stringify(actual)}`)
      }
      // Every entry an event caused names an event that was applied.
      const res = await app.inject({ method: 'GET', url: `/changes?after=${from}&limit=1000`, headers: { 'x-api-key': 'test-key-0123456789abcdef' } })
      for (const entry of res.json().entries as Entry[]) {
        entries++
        if (entry.cause.kind !== 'event') continue
        const event = await app.repository.event(entry.cause.event_id)
        if (event?.outcome !== 'applied') throw new Error(`entry ${entry.cursor} caused by a ${event?.outcome ?? 'missing'} event`)
      }
    }
  ), { numRuns: RUNS })
  t.ok(entries > 0, `${RUNS} histories, ${entries} entries folded`)
})
