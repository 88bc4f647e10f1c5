import t from 'tap'
import { count, emptyDrift, formatDrift } from '../../src/reconcile/drift.js'

t.test('the drift report lists the first five ids of each change and says when there are more', async t => {
  const drift = emptyDrift()
  for (let i = 0; i < 7; i++) count(drift, 'tenants', 'created', `t${i}`)
  count(drift, 'users', 'deleted', 'u1')
  count(drift, 'users', 'unchanged', 'u2')
  t.same(drift.tenants.ids.created, ['t0', 't1', 't2', 't3', 't4'])
  t.equal(formatDrift(drift), [
    'tenants: 7 created, 0 updated, 0 deleted, 0 unchanged',
    '  created: t0, t1, t2, t3, t4, ...',
    'users: 0 created, 0 updated, 1 deleted, 1 unchanged',
    '  deleted: u1',
    'memberships: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'role_assignments: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'roles: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'envs: 0 created, 0 updated, 0 deleted, 0 unchanged'
  ].join('\n'))
})
