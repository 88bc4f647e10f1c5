import { saasus, startSaasus, type SaasusState } from '../test/helpers/saasus.js'

// The stand-in SaaSus API of test/helpers/saasus.ts (it checks every signature) serving a large state, in a
// process of its own so that serving 50 MB of JSON does not weigh on the receiver being measured. Prints
// `listening <url>` and serves until killed. Sizes: BENCH_TENANTS, BENCH_USERS, BENCH_MEMBERSHIPS.

const TENANTS = Number(process.env.BENCH_TENANTS ?? 10_000)
const USERS = Number(process.env.BENCH_USERS ?? 100_000)
const MEMBERSHIPS = Number(process.env.BENCH_MEMBERSHIPS ?? 150_000)

const id = (prefix: string, i: number) => `${prefix}-${String(i).padStart(6, '0')}-0000-4000-8000-000000000000`
const state: SaasusState = {
  tenants: Array.from({ length: TENANTS }, (_, i) => saasus.tenant(id('tenant', i), {
    attributes: { plan_tier: i % 3, region: 'ap-northeast-1' }, plan_id: `plan-${i % 5}`, plan_histories: [{ plan_id: `plan-${i % 5}`, plan_applied_at: 1780000000 }]
  })),
  users: Array.from({ length: USERS }, (_, i) => saasus.user(id('user', i), { attributes: { lang: i % 2 === 0 ? 'ja' : 'en' } })),
  // Every user in one tenant, half of them in a second one: MEMBERSHIPS memberships, each with one role.
  memberships: Array.from({ length: MEMBERSHIPS }, (_, i) => {
    const user = i % USERS
    const tenant = (user + Math.floor(i / USERS) * 7) % TENANTS
    return saasus.membership(id('tenant', tenant), id('user', user), { dept: `d${i % 10}` }, [{ id: 1, roles: [i % 4 === 0 ? 'admin' : 'viewer'] }])
  }),
  roles: [saasus.role('admin', 'Administrator'), saasus.role('viewer', 'Viewer')],
  envs: [saasus.env(1, 'prod'), saasus.env(2, 'dev')]
}
const api = await startSaasus({ teardown: () => {} }, state)
process.stdout.write(`listening ${api.url}\n`)
