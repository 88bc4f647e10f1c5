import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Readable } from 'node:stream'
import Fastify from 'fastify'
import type { Teardown } from './app.js'

// A stand-in for SaaSus's Auth API on 127.0.0.1 (port 0): it checks every request's SAASUSSIGV1 signature
// as SaaSus documents it (written here independently of src/saasus), answers 401 otherwise, and serves
// the fixture state in the published response shapes. Faults can be set per path.

export const SAASUS = {
  saasId: 'test-saas-id-0001',
  apiKey: 'test-saasus-api-key-0123456789',
  secretKey: 'test-saasus-SECRET-never-shown-0123456789'
}

export interface SaasusState {
  tenants: Array<Record<string, any>>
  users: Array<Record<string, any>>
  /** One item per membership, as GET /tenants/all/users answers. */
  memberships: Array<Record<string, any>>
  roles: Array<Record<string, any>>
  envs: Array<Record<string, any>>
}

export interface Fault {
  status?: number
  /**
   * Raw answer body (with status 200 unless `status` says otherwise): e.g. malformed JSON; or a stream made
   * afresh for each request (sent without Content-Length), e.g. an answer of hundreds of megabytes.
   */
  body?: string | (() => Readable)
  /** A Location header (with a 3xx `status`: a redirect). */
  location?: string
  /** An error answer whose message echoes the request's Authorization header, as a careless server might. */
  echoAuthorization?: boolean
  retryAfter?: string
  /** Wait this long before answering (a time-out). */
  delayMs?: number
  /** How many requests it affects; unlimited when absent. */
  times?: number
}

export interface StandIn {
  url: string
  state: SaasusState
  faults: Map<string, Fault>
  /** Paths requested, with the status answered. */
  calls: Array<{ path: string, status: number }>
  /** While set, called when a snapshot request arrives (and awaited before answering). */
  onRequest?: (path: string) => Promise<void>
  /** The environment that points the receiver at this stand-in. */
  env: Record<string, string>
}

export const emptyState = (): SaasusState => ({ tenants: [], users: [], memberships: [], roles: [], envs: [] })

const minute = (at: number): string => new Date(at).toISOString().slice(0, 16).replace(/[-T:]/g, '')

function signatureValid (header: string | undefined, method: string, urlPart: string): boolean {
  const match = /^SAASUSSIGV1 Sig=([0-9a-f]{64}), SaaSID=([^,]+), APIKey=(.+)$/.exec(header ?? '')
  if (match === null || match[2] !== SAASUS.saasId || match[3] !== SAASUS.apiKey) return false
  const presented = Buffer.from(match[1], 'hex')
  // The current minute and its neighbours, as a server tolerating small clock differences would.
  return [-60_000, 0, 60_000].some(offset => {
    const expected = createHmac('sha256', SAASUS.secretKey).update(minute(Date.now() + offset) + SAASUS.apiKey + method + urlPart).digest()
    return timingSafeEqual(expected, presented)
  })
}

export async function startSaasus (t: Teardown, state: SaasusState = emptyState()): Promise<StandIn> {
  // Connections still open at the end (an answer the client stopped reading) are closed, not waited for.
  const server = Fastify({ logger: false, forceCloseConnections: true })
  const standIn: StandIn = { url: '', state, faults: new Map(), calls: [], env: {} }
  const answers: Record<string, () => unknown> = {
    '/v1/auth/tenants': () => ({ tenants: standIn.state.tenants }),
    '/v1/auth/users': () => ({ users: standIn.state.users }),
    '/v1/auth/tenants/all/users': () => ({ users: standIn.state.memberships }),
    '/v1/auth/roles': () => ({ roles: standIn.state.roles }),
    '/v1/auth/envs': () => ({ envs: standIn.state.envs })
  }
  for (const [path, answer] of Object.entries(answers)) {
    server.get(path, async (request, reply) => {
      const done = (status: number) => { standIn.calls.push({ path, status }); return status }
      if (!signatureValid(request.headers.authorization, request.method, `${request.headers.host}${request.url}`)) {
        return await reply.code(done(401)).send({ type: 'invalid_signature', message: 'signature mismatch' })
      }
      const fault = standIn.faults.get(path)
      if (fault !== undefined && (fault.times === undefined || fault.times > 0)) {
        if (fault.times !== undefined) fault.times--
        if (fault.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, fault.delayMs))
        if (fault.retryAfter !== undefined) void reply.header('retry-after', fault.retryAfter)
        if (fault.location !== undefined) void reply.header('location', fault.location)
        if (fault.status !== undefined || fault.body !== undefined) {
          const message = fault.echoAuthorization === true ? `bad request: Authorization: ${String(request.headers.authorization)}` : `HTTP ${fault.status}`
          const body = typeof fault.body === 'function' ? fault.body() : fault.body ?? JSON.stringify({ type: 'error', message })
          return await reply.code(done(fault.status ?? 200)).type('application/json').send(body)
        }
      }
      await standIn.onRequest?.(path)
      done(200)
      return answer()
    })
  }
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await server.close() })
  const { port } = server.server.address() as { port: number }
  standIn.url = `http://127.0.0.1:${port}`
  standIn.env = {
    SAASUS_SAAS_ID: SAASUS.saasId,
    SAASUS_API_KEY: SAASUS.apiKey,
    SAASUS_SECRET_KEY: SAASUS.secretKey,
    SAASUS_API_URL_BASE: standIn.url,
    SAASUS_TIMEOUT_MS: '2000',
    SAASUS_RETRIES: '1',
    // Tests start runs themselves.
    RECONCILE_START_DELAY_MS: '86400000'
  }
  return standIn
}

/** Fixture builders in SaaSus's response shapes. */
export const saasus = {
  tenant: (id: string, fields: Record<string, any> = {}) => ({
    id, name: `name-${id}`, attributes: {}, back_office_staff_email: `staff@${id}.example`, plan_histories: [], ...fields
  }),
  user: (id: string, fields: Record<string, any> = {}) => ({ id, email: `${id}@example.com`, attributes: {}, ...fields }),
  membership: (tenantId: string, userId: string, attributes: Record<string, any> = {}, envs: Array<{ id: number, roles: string[] }> = []) => ({
    id: userId, tenant_id: tenantId, tenant_name: `name-${tenantId}`, email: `${userId}@example.com`, attributes,
    envs: envs.map(e => ({ id: e.id, name: `env${e.id}`, display_name: `Env ${e.id}`, roles: e.roles.map(r => ({ role_name: r, display_name: r })) }))
  }),
  role: (roleName: string, displayName = roleName) => ({ role_name: roleName, display_name: displayName }),
  env: (id: number, name = `env${id}`) => ({ id, name, display_name: name.toUpperCase() })
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
// Every key, a null value included: SaaSus's attributes hold any JSON value, and the copy keeps them all.
const sortKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => byText(a, b)))

/**
 * What GET /tenants and GET /users should show for a stand-in state (without `updated_at`). `signInIds`
 * holds what events set (SaaSus's user list carries no sign_in_id).
 */
export function expectedReads (state: SaasusState, signInIds: Record<string, string | null> = {}): { tenants: unknown[], users: unknown[] } {
  const tenantIds = new Set(state.tenants.map(t => t.id))
  const userIds = new Set(state.users.map(u => u.id))
  const members = state.memberships.filter(m => tenantIds.has(m.tenant_id) && userIds.has(m.id))
  const reservation = (t: Record<string, any>) => {
    const r = {
      next_plan_id: t.next_plan_id ?? null,
      using_next_plan_from: t.using_next_plan_from ?? null,
      next_plan_tax_rate_id: t.next_plan_tax_rate_id ?? null,
      proration_behavior: t.proration_behavior ?? null,
      delete_usage: t.delete_usage ?? null
    }
    return Object.values(r).every(v => v === null) ? null : r
  }
  return {
    tenants: [...state.tenants].sort((a, b) => byText(a.id, b.id)).map(t => ({
      id: t.id,
      name: t.name,
      attributes: sortKeys(t.attributes),
      back_office_staff_email: t.back_office_staff_email,
      plan_id: t.plan_id ?? null,
      plan_histories: t.plan_histories,
      next_plan: reservation(t),
      billing_info: t.billing_info ?? null,
      users: members.filter(m => m.tenant_id === t.id).map(m => m.id).sort(byText)
    })),
    users: [...state.users].sort((a, b) => byText(a.id, b.id)).map(u => ({
      id: u.id,
      email: u.email,
      sign_in_id: u.sign_in_id ?? signInIds[u.id] ?? null,
      attributes: sortKeys(u.attributes),
      tenants: members.filter(m => m.id === u.id).sort((a, b) => byText(a.tenant_id, b.tenant_id)).map(m => ({
        tenant_id: m.tenant_id,
        attributes: sortKeys(m.attributes),
        envs: [...m.envs].sort((a: any, b: any) => a.id - b.id)
          .map((e: any) => ({ env_id: e.id, roles: e.roles.map((r: any) => r.role_name).sort(byText) }))
      }))
    }))
  }
}

/** A small SaaSus state with one of each: a tenant with an attribute, a user, a membership with a role, a role, an env. */
export const oneOfEach = (): SaasusState => ({
  ...emptyState(),
  tenants: [saasus.tenant('t1', { attributes: { a: 1 } })],
  users: [saasus.user('u1')],
  memberships: [saasus.membership('t1', 'u1', {}, [{ id: 1, roles: ['admin'] }])],
  roles: [saasus.role('admin')],
  envs: [saasus.env(1)]
})
