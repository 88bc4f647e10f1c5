import t from 'tap'
import fc from 'fast-check'
import { activationOf, activationVersion, asReservation, dueAt, effectivePlan, planAsOf, planOpOf, type PlanBase, type PlanOp, type StoredPlanOp } from '../../src/events/plan-state.js'
import { makeVersion, snapshotVersion } from '../../src/events/version.js'

// The plan's fold (src/events/plan-state.ts), pure: the rules case by case, and a property: any order and
// repeats of the same changes give the same plan, at every instant.

const BASE = Date.parse('2026-05-19T10:00:00Z')
const v = (second: number, id: string) => makeVersion(BASE + second * 1000, 'PUT', id)
const sec = (second: number) => (BASE + second * 1000) / 1000
const empty: PlanBase = { planId: null, planIdV: '', planHistories: null, planHistoriesV: '', nextPlan: null, nextPlanV: '' }
const reserve = (planId: string, from: number): PlanOp => planOpOf({ next_plan_id: planId, using_next_plan_from: from })
const apply = (planId: string): PlanOp => planOpOf({ next_plan_id: planId })
const cancel: PlanOp = planOpOf({})

t.test('a PUT is applied at once, reserved, or a cancellation', async t => {
  t.same(planOpOf({ next_plan_id: 'p', next_plan_tax_rate_id: 'tax', proration_behavior: 'none', delete_usage: true }),
    { kind: 'apply', plan_id: 'p', tax_rate_id: 'tax', proration_behavior: 'none', delete_usage: true })
  t.same(planOpOf({ next_plan_id: 'p', using_next_plan_from: 5 }),
    { kind: 'reserve', reservation: { next_plan_id: 'p', using_next_plan_from: 5, next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null } })
  t.same(planOpOf({ next_plan_id: null, using_next_plan_from: 5 }), { kind: 'cancel' })
})

t.test('a stored next_plan register is a reservation only with a plan and an instant', async t => {
  t.equal(asReservation(null), null)
  t.equal(asReservation('x'), null)
  t.equal(asReservation({ next_plan_id: 'p', using_next_plan_from: null }), null, 'an earlier version\'s immediate change')
  t.equal(asReservation({ next_plan_id: null, using_next_plan_from: null }), null, 'an earlier version\'s cancellation')
  t.same(asReservation({ next_plan_id: 'p', using_next_plan_from: 5, next_plan_tax_rate_id: 7, delete_usage: 'yes' }),
    { next_plan_id: 'p', using_next_plan_from: 5, next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null }, 'ill-typed extras dropped')
})

t.test('changes in version order over the base', async t => {
  const ops: StoredPlanOp[] = [
    { v: v(1, 'a'), op: apply('plan-a') },
    { v: v(2, 'b'), op: reserve('plan-b', sec(10)) },
    { v: v(20, 'c'), op: cancel }
  ]
  const state = effectivePlan(empty, ops)
  t.same(state, {
    plan_id: 'plan-b',
    plan_histories: [{ plan_id: 'plan-a', plan_applied_at: sec(1) }, { plan_id: 'plan-b', plan_applied_at: sec(10) }],
    next_plan: null,
    next_plan_v: '',
    changed_v: activationVersion({ next_plan_id: 'plan-b', using_next_plan_from: sec(10), next_plan_tax_rate_id: null, proration_behavior: null, delete_usage: null }, v(2, 'b'))
  }, 'a change after the instant finds the reservation taken effect')
  t.equal(dueAt(state), null)
  t.equal(activationOf(state), undefined)

  const pending = effectivePlan(empty, ops.slice(0, 2))
  t.equal(pending.plan_id, 'plan-a')
  t.equal(dueAt(pending), sec(10) * 1000)
  t.same(planAsOf(pending, (sec(10) - 1) * 1000), pending, 'before the instant')
  t.same(planAsOf(pending), pending, 'as committed')
  t.same(planAsOf(pending, sec(10) * 1000).plan_id, 'plan-b', 'at the instant')
  t.same(effectivePlan(empty, ops.slice(0, 2), sec(10) * 1000), planAsOf(pending, sec(10) * 1000), 'the same from the rows as from the fold')

  // The activator's record of the instant, then a late cancellation dated before it: no switch.
  const activation = activationOf(pending)!
  t.equal(effectivePlan(empty, [...ops.slice(0, 2), activation]).plan_id, 'plan-b')
  t.equal(effectivePlan(empty, [...ops.slice(0, 2), activation, { v: v(5, 'late'), op: cancel }]).plan_id, 'plan-a')
  t.same(effectivePlan(empty, [...ops.slice(0, 2), activation, { v: v(5, 'late'), op: reserve('plan-c', sec(30)) }]).next_plan?.next_plan_id, 'plan-c')
})

t.test('the base wins over older changes, register by register', async t => {
  const S = snapshotVersion(BASE + 100_000, 'run')
  const base: PlanBase = { planId: 'plan-s', planIdV: S, planHistories: [{ plan_id: 'plan-s', plan_applied_at: 1 }], planHistoriesV: S, nextPlan: null, nextPlanV: S }
  const state = effectivePlan(base, [{ v: v(50, 'old'), op: apply('plan-old') }, { v: v(60, 'r'), op: reserve('plan-r', sec(70)) }, { v: v(90, 'c'), op: cancel }])
  t.same(state, { plan_id: 'plan-s', plan_histories: base.planHistories, next_plan: null, next_plan_v: '', changed_v: '' })
  const newer = effectivePlan(base, [{ v: v(200, 'new'), op: apply('plan-new') }])
  t.same(newer.plan_histories, [{ plan_id: 'plan-s', plan_applied_at: 1 }, { plan_id: 'plan-new', plan_applied_at: sec(200) }])

  // A reservation in a snapshot taken after its instant takes effect just after the snapshot.
  const late = { next_plan_id: 'plan-x', using_next_plan_from: sec(50) }
  const fromSnapshot = effectivePlan({ ...base, nextPlan: late }, [])
  t.equal(fromSnapshot.next_plan_v, S)
  t.equal(activationOf(fromSnapshot)!.v, `${S}:scheduled`)
  t.ok(activationOf(fromSnapshot)!.v > S)
  t.equal(effectivePlan({ ...base, nextPlan: late }, [activationOf(fromSnapshot)!]).plan_id, 'plan-x')
  // A history register written empty (null) by a delete: entries after it start a list.
  t.same(effectivePlan({ ...empty, planHistoriesV: v(0, 'd') }, [{ v: v(1, 'a'), op: apply('p') }]).plan_histories, [{ plan_id: 'p', plan_applied_at: sec(1) }])
})

t.test('any order and repeats of the same changes give the same plan, at every instant', async t => {
  const op = fc.oneof(
    fc.constantFrom('plan-a', 'plan-b', 'plan-c').map(apply),
    fc.tuple(fc.constantFrom('plan-a', 'plan-b', 'plan-c'), fc.integer({ min: 0, max: 40 })).map(([p, s]) => reserve(p, sec(s))),
    fc.constant(cancel)
  )
  const history = fc.uniqueArray(fc.record({ second: fc.integer({ min: 0, max: 30 }), id: fc.uuid(), op }), { selector: c => c.id, maxLength: 10 })
  await fc.assert(fc.property(history, fc.array(fc.nat()), fc.integer({ min: 0, max: 45 }), (changes, noise, at) => {
    const rows = changes.map(c => ({ v: v(c.second, c.id), op: c.op }))
    const shuffled = [...rows].sort((a, b) => (noise[rows.indexOf(a) % Math.max(1, noise.length)] ?? 0) - (noise[rows.indexOf(b) % Math.max(1, noise.length)] ?? 0))
    const repeated = [...shuffled, ...shuffled.slice(0, 2)]
    const nowMs = (sec(at)) * 1000
    const expected = effectivePlan(empty, rows, nowMs)
    // Repeats are one row (the table's key): the fold of distinct rows, in any order.
    const distinct = [...new Map(repeated.map(r => [r.v, r])).values()]
    const actual = effectivePlan(empty, distinct, nowMs)
    if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
    // The activator's records of instants change nothing that reading at a later instant does not show.
    const recorded = effectivePlan(empty, rows)
    const activation = activationOf(recorded)
    if (activation !== undefined && recorded.next_plan!.using_next_plan_from * 1000 <= nowMs) {
      const withRecord = effectivePlan(empty, [...rows, activation], nowMs)
      if (JSON.stringify(withRecord.plan_id) !== JSON.stringify(expected.plan_id)) throw new Error('the record changed the plan')
    }
  }), { numRuns: 500 })
  t.pass('converged')
})
