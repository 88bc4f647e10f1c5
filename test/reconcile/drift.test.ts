import t from 'tap'
import { count, emptyDrift, formatDrift, refuse } from '../../src/reconcile/drift.js'

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
    'membership_envs: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'roles: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'envs: 0 created, 0 updated, 0 deleted, 0 unchanged'
  ].join('\n'))
})

t.test('refused items: counted on the entity\'s line, the first five listed with where and why, then how many more', async t => {
  const drift = emptyDrift()
  for (let i = 0; i < 6; i++) refuse(drift, 'users', { id: `u${i}`, field: `GET /v1/auth/users /users/${i}/attributes`, reason: 'is nested deeper than 64 levels' })
  refuse(drift, 'envs', { id: null, field: 'GET /v1/auth/envs /envs/0/id', reason: 'Expected required property' })
  t.equal(drift.users.refused, 6)
  t.equal(drift.users.refusals.length, 5)
  t.equal(formatDrift(drift), [
    'tenants: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'users: 0 created, 0 updated, 0 deleted, 0 unchanged, 6 refused',
    ...[0, 1, 2, 3, 4].map(i => `  refused: u${i} at GET /v1/auth/users /users/${i}/attributes: is nested deeper than 64 levels`),
    '  refused: 1 more',
    'memberships: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'role_assignments: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'membership_envs: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'roles: 0 created, 0 updated, 0 deleted, 0 unchanged',
    'envs: 0 created, 0 updated, 0 deleted, 0 unchanged, 1 refused',
    '  refused: (no usable id) at GET /v1/auth/envs /envs/0/id: Expected required property'
  ].join('\n'))
})
