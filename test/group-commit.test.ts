import t from 'tap'
import { engineTest } from './helpers/engines.js'
import { buildApp, getJson, postEvent } from './helpers/app.js'
import { events } from './helpers/events.js'

// Concurrent requests share transactions: conflicting writes to the same rows in the same second, repeats
// inside one batch, and the final state must equal one-at-a-time delivery.

const list = () => {
  const out: Array<Record<string, any>> = []
  for (let i = 0; i < 40; i++) {
    const second = `2026-05-19T10:00:0${i % 4}Z`
    out.push(events.updateTenant('g-t', { name: `n${i}`, attributes: { [`k${i % 5}`]: i } }, { time: second, id: `evt-${String(i).padStart(3, '0')}` }))
    out.push(events.updateUserEmail('g-u', `e${i}@x`, { time: second, id: `evt-u-${String(i).padStart(3, '0')}` }))
  }
  out.push(events.createTenantUser('g-t', 'g-u', { a: 1 }, [{ id: 1, roles: ['r1', 'r2'] }], { time: '2026-05-19T10:00:01Z' }))
  out.push(events.deleteTenantUserRole('g-t', 'g-u', 1, 'r2', { time: '2026-05-19T10:00:02Z' }))
  return out
}

engineTest(t, 'concurrent deliveries are batched and converge to the one-at-a-time state', async (t, engine) => {
  const sequential = await buildApp(t, {}, engine)
  for (const e of list()) await postEvent(sequential.app, e)

  const concurrent = await buildApp(t, { BATCH_MAX_EVENTS: '16', BATCH_MAX_WAIT_MS: '5' }, engine)
  const sizes: number[] = []
  concurrent.app.repository.onBatch = n => sizes.push(n)
  const all = list()
  const repeated = [...all, ...all.slice(0, 10)].reverse()
  const answers = await Promise.all(repeated.map(async e => await postEvent(concurrent.app, e)))
  t.ok(answers.every(a => a.statusCode === 200))
  const outcomes = answers.map(a => a.json().results[0].outcome)
  t.equal(outcomes.filter(o => o === 'duplicate').length, 10, 'each repeat, even inside one batch, is a duplicate')
  t.ok(Math.max(...sizes) > 1, `batches of ${Math.max(...sizes)} events were written together`)
  t.ok(sizes.every(n => n <= 16))

  for (const url of ['/tenants/g-t', '/users/g-u']) {
    t.same((await getJson(concurrent.app, url)).json(), (await getJson(sequential.app, url)).json(), url)
  }
})

engineTest(t, 'outcomes inside one batch: stale, applied, and log_id repeats', async (t, engine) => {
  const { app } = await buildApp(t, { BATCH_MAX_WAIT_MS: '20', BATCH_CONCURRENCY: '1' }, engine)
  const newer = events.updateTenant('o-t', { name: 'newer' }, { time: '2026-05-19T10:00:05Z' })
  const older = events.updateTenant('o-t', { name: 'older' }, { time: '2026-05-19T10:00:01Z' })
  const retry = events.updateTenant('o-t', { name: 'retry' }, { time: '2026-05-19T10:00:09Z', logId: 'same-log' })
  const original = events.updateTenant('o-t', { name: 'original' }, { time: '2026-05-19T10:00:02Z', logId: 'same-log' })
  const [a, b, c, d] = await Promise.all([newer, older, original, retry].map(async e => (await postEvent(app, e)).json().results[0].outcome))
  t.same([a, b, c, d], ['applied', 'stale', 'stale', 'duplicate'])
  t.equal((await getJson(app, '/tenants/o-t')).json().name, 'newer')
  t.equal((await getJson(app, `/events/${older.id}`)).json().outcome, 'stale', 'the stored outcome is the answered one')
})
