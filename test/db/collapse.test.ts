import t from 'tap'
import { collapse } from '../../src/db/writing/collapse.js'
import type { Change } from '../../src/events/changes.js'
import type { Version } from '../../src/events/version.js'

const v = (s: string) => s as Version

t.test('per row and register, the greatest version wins and remembers its event', async t => {
  const changes: Change[][] = [
    [{ kind: 'register', entity: 'tenant', key: { id: 't1' }, version: v('2'), live: true, fields: { name: 'b' } }],
    [{ kind: 'register', entity: 'tenant', key: { id: 't1' }, version: v('1'), live: true, fields: { name: 'a', back_office_staff_email: 'e' } }],
    [{ kind: 'register', entity: 'tenant', key: { id: 't1' }, version: v('3'), live: false, fields: { name: null } }],
    [{ kind: 'register', entity: 'tenant', key: { id: 't2' }, version: v('1'), live: true, fields: {} }],
    [{ kind: 'register', entity: 'user', key: { id: 't1' }, version: v('1'), live: true, fields: {} }]
  ]
  const { rows, attributes } = collapse(changes)
  t.equal(rows.length, 3, 'a tenant and a user with the same id are different rows')
  const t1 = rows[0]
  t.same(Object.fromEntries(t1.registers), {
    live: { value: false, version: '3', owner: 2 },
    name: { value: null, version: '3', owner: 2 },
    back_office_staff_email: { value: 'e', version: '1', owner: 1 }
  })
  t.same(t1.deleted, { value: null, version: '3', owner: 2 })
  t.equal(rows[1].deleted, undefined)
  t.same(attributes, [])
})

t.test('attribute keys collapse per key; null stays a removal', async t => {
  const changes: Change[][] = [
    [{ kind: 'attributes', scope: 'user', tenantId: '', userId: 'u', version: v('5'), values: { a: 1, b: null } }],
    [{ kind: 'attributes', scope: 'user', tenantId: '', userId: 'u', version: v('4'), values: { a: 2, c: 3 } }],
    [{ kind: 'attributes', scope: 'tenant_user', tenantId: 't', userId: 'u', version: v('1'), values: { a: 9 } }]
  ]
  const { attributes } = collapse(changes)
  t.same(attributes.map(a => [a.scope, a.key, a.winner]), [
    ['user', 'a', { value: 1, version: '5', owner: 0 }],
    ['user', 'b', { value: null, version: '5', owner: 0 }],
    ['user', 'c', { value: 3, version: '4', owner: 1 }],
    ['tenant_user', 'a', { value: 9, version: '1', owner: 2 }]
  ])
})
