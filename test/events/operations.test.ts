import t from 'tap'
import { matchOperation } from '../../src/events/operations.js'

t.test('method + uri name the call; ids come from the path', async t => {
  t.same(matchOperation('POST', '/v1/auth/tenants'), { name: 'create_tenant', params: {} })
  t.same(matchOperation('patch', '/v1/auth/tenants/t-1'), { name: 'update_tenant', params: { tenant_id: 't-1' } })
  t.same(matchOperation('DELETE', '/v1/auth/tenants/t-1/users/u-1/envs/3/roles/admin'),
    { name: 'delete_tenant_user_role', params: { tenant_id: 't-1', user_id: 'u-1', env_id: '3', role_name: 'admin' } })
  t.same(matchOperation('PUT', '/v1/auth/tenants/t-1/billing-info'), { name: 'update_tenant_billing_info', params: { tenant_id: 't-1' } })
  t.same(matchOperation('POST', '/v1/auth/users/u-1/password/reset'), { name: 'reset_saas_user_password', params: { user_id: 'u-1' } })
})

t.test('query strings are dropped and segments URL-decoded', async t => {
  t.same(matchOperation('PATCH', '/v1/auth/users/u%201/email?x=1'), { name: 'update_saas_user_email', params: { user_id: 'u 1' } })
  t.same(matchOperation('DELETE', '/v1/auth/roles/r%2Fslash#frag'), { name: 'delete_role', params: { role_name: 'r/slash' } })
})

t.test('literal segments win over parameters', async t => {
  // `users/{user_id}/email` and `tenants/{tenant_id}/users` both have a literal after the parameter.
  t.same(matchOperation('POST', '/v1/auth/tenants/t-1/users'), { name: 'create_tenant_user', params: { tenant_id: 't-1' } })
  t.same(matchOperation('PATCH', '/v1/auth/users/email/email'), { name: 'update_saas_user_email', params: { user_id: 'email' } })
})

t.test('anything else is unknown', async t => {
  t.equal(matchOperation('GET', '/v1/auth/tenants'), undefined, 'wrong method')
  t.equal(matchOperation('POST', '/v1/pricing/units'), undefined, 'other API')
  t.equal(matchOperation('POST', '/v2/auth/tenants'), undefined, 'other version')
  t.equal(matchOperation('POST', '/v1'), undefined, 'too short')
  t.equal(matchOperation('PATCH', '/v1/auth/tenants/%E0%A4%A'), undefined, 'bad percent-encoding')
  t.equal(matchOperation('PATCH', '/v1/auth/tenants/t-1/unknown'), undefined, 'unknown sub-resource')
  t.equal(matchOperation('DELETE', '/v1/auth/tenants/%20/x'), undefined)
})
