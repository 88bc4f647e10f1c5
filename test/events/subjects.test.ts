import t from 'tap'
import { parseEvent } from '../../src/events/parse.js'
import { eventSubjects } from '../../src/events/subjects.js'
import { events, makeEvent } from '../helpers/events.js'

// Whom each SaaSus call is about, as stored on its event's row for the console's tenant and user filters.

const time = '2026-05-19T02:22:58Z'

function subjects (body: Record<string, any>) {
  const parsed = parseEvent(body)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problem))
  return eventSubjects(parsed.event, parsed.plan)
}

const both = (tenantId: string | null, userId: string | null) => ({ tenantId, userId })

t.test('tenant calls name the tenant, from the uri or, for a creation, from the response', async t => {
  t.same(subjects(events.createTenant('t1', { name: 'n' }, { time })), both('t1', null))
  t.same(subjects(events.updateTenant('t1', { name: 'n' }, { time })), both('t1', null))
  t.same(subjects(events.deleteTenant('t1', { time })), both('t1', null))
  t.same(subjects(events.updateTenantPlan('t1', {}, { time })), both('t1', null))
  t.same(subjects(events.updateTenantBillingInfo('t1', 'Acme', { time })), both('t1', null))
})

t.test('user calls name the user, projected or not', async t => {
  t.same(subjects(events.createUser('u1', { email: 'a@example.com' }, { time })), both(null, 'u1'))
  t.same(subjects(events.updateUserEmail('u1', 'b@example.com', { time })), both(null, 'u1'))
  t.same(subjects(events.updateUserAttributes('u1', {}, { time })), both(null, 'u1'))
  t.same(subjects(events.deleteUser('u1', { time })), both(null, 'u1'))
  t.same(subjects(events.updateUserPassword('u1', { time })), both(null, 'u1'), 'an ignored (not projected) call about a user')
})

t.test('membership and role calls name both', async t => {
  t.same(subjects(events.createTenantUser('t1', 'u1', {}, [{ id: 1, roles: ['admin'] }], { time })), both('t1', 'u1'), 'the user from the response')
  t.same(subjects(events.updateTenantUser('t1', 'u1', {}, { time })), both('t1', 'u1'))
  t.same(subjects(events.deleteTenantUser('t1', 'u1', { time })), both('t1', 'u1'))
  t.same(subjects(events.createTenantUserRoles('t1', 'u1', 1, ['admin'], { time })), both('t1', 'u1'))
  t.same(subjects(events.deleteTenantUserRole('t1', 'u 1', 1, 'admin', { time })), both('t1', 'u 1'), 'uri ids decoded')
})

t.test('calls about neither, failed calls and unknown calls', async t => {
  t.same(subjects(events.createRole('admin', 'Admin', { time })), both(null, null))
  t.same(subjects(events.deleteEnv(1, { time })), both(null, null))
  t.same(subjects(events.updateTenant('t1', { name: 'n' }, { time, httpStatus: 404 })), both('t1', null), 'a failed call (ignored) still names its tenant')
  t.same(subjects(events.createTenant('t1', { name: 'n' }, { time, httpStatus: 500, response: { message: 'oops' } })), both(null, null),
    'a failed creation names no one: the id exists only in a successful response')
  t.same(subjects(makeEvent({ eventType: 'x', method: 'GET', uri: '/v1/auth/tenants/t1/whatever', time })), both(null, null), 'an unknown call')
  const long = 'x'.repeat(257)
  t.same(subjects(events.deleteTenantUser(long, 'u1', { time, httpStatus: 404 })), both(null, 'u1'), 'an id longer than any kept id is not recorded')
})
