import { randomUUID } from 'node:crypto'

// Realistic deliveries: mostly creates and updates of tenants and users, memberships and roles, with a
// share of repeats (EventBridge retries) and of stale events (older than what is stored). Each event is
// about the size of SaaSus's create_tenant sample (1.3 KB).

const BASE = Date.parse('2026-05-19T00:00:00Z')

function envelope (eventType: string, method: string, uri: string, seconds: number, request: unknown, response: unknown, status = 200): Record<string, unknown> {
  const time = new Date(BASE + seconds * 1000).toISOString().replace('.000', '')
  const inner = {
    log_id: randomUUID(), date_time: time, date: time.slice(0, 10), ttl: '2033-05-19T02:22:58Z', http_status: String(status),
    uri, ip_address: '127.0.0.1:44896', referer: 'https://saasadmin.console.saasus.io/tenants', request_method: method,
    saas_id: 'sample_saas_id_sample', api_key: 'sample_api_key_sample',
    request_body: request === undefined ? '' : JSON.stringify(request),
    response_body: response === undefined ? '' : JSON.stringify(response)
  }
  return {
    version: '0', id: randomUUID(), 'detail-type': 'api_call',
    source: 'aws.partner/saasus.io/d8753ef8-8604-4b7d-8a44-cf9a64433209-1/event', account: '899411123005',
    time, region: 'ap-northeast-1', resources: [],
    detail: { event_type: eventType, event: JSON.stringify(inner), trace_id: randomUUID() }
  }
}

export interface Workload {
  /** The next request body (JSON text) and the envelope id it carries. */
  next: () => { id: string, body: string }
}

/** A stream of events over `tenants` tenants and users; ~5 % repeats, ~5 % stale. */
export function workload (tenants = 2000): Workload {
  let n = 0
  const recent: Array<{ id: string, body: string }> = []
  const make = (): Record<string, unknown> => {
    const k = n++
    const t = `tenant-${k % tenants}`
    const u = `user-${k % tenants}`
    // Time moves forward one second per 50 events; stale events go back an hour.
    const second = Math.floor(k / 50) + 3600
    const at = k % 20 === 7 ? second - 3600 : second
    const attributes = { memo: 'AmazonEventBridgeTest', plan: `p${k % 7}`, seats: k % 100 }
    switch (k % 6) {
      case 0: return envelope('create_tenant', 'POST', '/v1/auth/tenants', at,
        { name: t, attributes, back_office_staff_email: `${t}@example.com` },
        { id: t, name: t, attributes, back_office_staff_email: `${t}@example.com`, plan_histories: [] }, 201)
      case 1: return envelope('update_tenant', 'PATCH', `/v1/auth/tenants/${t}`, at,
        { name: `${t}-renamed`, attributes, back_office_staff_email: `${t}@example.com` }, undefined)
      case 2: return envelope('create_saas_user', 'POST', '/v1/auth/users', at,
        { email: `${u}@example.com`, password: 'xxxxx' }, { id: u, email: `${u}@example.com`, sign_in_id: '', attributes: {} }, 201)
      case 3: return envelope('update_saas_user_attributes', 'PATCH', `/v1/auth/users/${u}/attributes`, at, { attributes }, undefined)
      case 4: return envelope('create_tenant_user', 'POST', `/v1/auth/tenants/${t}/users`, at,
        { email: `${u}@example.com`, attributes: { dept: 'dev' } },
        { id: u, tenant_id: t, email: `${u}@example.com`, attributes: { dept: 'dev' }, envs: [{ id: 1, roles: [{ role_name: 'admin' }] }] }, 201)
      default: return envelope('create_tenant_user_roles', 'POST', `/v1/auth/tenants/${t}/users/${u}/envs/1/roles`, at, { role_names: ['viewer'] }, undefined, 201)
    }
  }
  return {
    next () {
      if (recent.length > 0 && n % 20 === 3) return recent[(n++ * 7919) % recent.length]
      const event = make()
      const item = { id: event.id as string, body: JSON.stringify(event) }
      recent.push(item)
      if (recent.length > 500) recent.shift()
      return item
    }
  }
}
