// Which SaaSus Auth API call an event records, decided by request method + uri (never by `event_type`,
// which SaaSus documents for two events only). Names follow the inferred `event_type` labels.

export type OperationName =
  | 'create_tenant' | 'update_tenant' | 'delete_tenant' | 'update_tenant_plan' | 'update_tenant_billing_info'
  | 'create_saas_user' | 'delete_saas_user' | 'update_saas_user_email' | 'update_saas_user_sign_in_id'
  | 'update_saas_user_attributes' | 'update_saas_user_password' | 'reset_saas_user_password'
  | 'create_tenant_user' | 'update_tenant_user' | 'delete_tenant_user'
  | 'create_tenant_user_roles' | 'delete_tenant_user_role'
  | 'create_role' | 'update_role' | 'delete_role' | 'create_env' | 'update_env' | 'delete_env'

export interface Operation {
  name: OperationName
  /** Path parameters, URL-decoded. */
  params: Record<string, string>
}

interface Route {
  name: OperationName
  method: string
  segments: string[]
}

const API_PREFIX = ['v1', 'auth']

const route = (name: OperationName, method: string, path: string): Route =>
  ({ name, method, segments: path.split('/').filter(Boolean) })

const ROUTES: Route[] = [
  route('create_tenant', 'POST', '/tenants'),
  route('update_tenant', 'PATCH', '/tenants/{tenant_id}'),
  route('delete_tenant', 'DELETE', '/tenants/{tenant_id}'),
  route('update_tenant_plan', 'PUT', '/tenants/{tenant_id}/plans'),
  route('update_tenant_billing_info', 'PUT', '/tenants/{tenant_id}/billing-info'),
  route('create_saas_user', 'POST', '/users'),
  route('delete_saas_user', 'DELETE', '/users/{user_id}'),
  route('update_saas_user_email', 'PATCH', '/users/{user_id}/email'),
  route('update_saas_user_sign_in_id', 'PATCH', '/users/{user_id}/sign-in-id'),
  route('update_saas_user_attributes', 'PATCH', '/users/{user_id}/attributes'),
  route('update_saas_user_password', 'PATCH', '/users/{user_id}/password'),
  route('reset_saas_user_password', 'POST', '/users/{user_id}/password/reset'),
  route('create_tenant_user', 'POST', '/tenants/{tenant_id}/users'),
  route('update_tenant_user', 'PATCH', '/tenants/{tenant_id}/users/{user_id}'),
  route('delete_tenant_user', 'DELETE', '/tenants/{tenant_id}/users/{user_id}'),
  route('create_tenant_user_roles', 'POST', '/tenants/{tenant_id}/users/{user_id}/envs/{env_id}/roles'),
  route('delete_tenant_user_role', 'DELETE', '/tenants/{tenant_id}/users/{user_id}/envs/{env_id}/roles/{role_name}'),
  route('create_role', 'POST', '/roles'),
  route('update_role', 'PATCH', '/roles/{role_name}'),
  route('delete_role', 'DELETE', '/roles/{role_name}'),
  route('create_env', 'POST', '/envs'),
  route('update_env', 'PATCH', '/envs/{env_id}'),
  route('delete_env', 'DELETE', '/envs/{env_id}')
]

/** Every operation name this version knows: the `event_type` values metrics keep as labels. */
export const OPERATION_NAMES: ReadonlySet<string> = new Set(ROUTES.map(r => r.name))

const isParam = (segment: string): boolean => segment.startsWith('{')

// Routes with more literal segments win, so `/users/count` can never be read as `/users/{user_id}`.
const literalCount = (r: Route): number => r.segments.filter(s => !isParam(s)).length
ROUTES.sort((a, b) => literalCount(b) - literalCount(a))

function decodeSegment (segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/**
 * The operation an event's method + uri names, or undefined for calls this table does not know
 * (those are recorded and ignored). The query string is dropped and path segments are URL-decoded.
 */
export function matchOperation (method: string, uri: string): Operation | undefined {
  const path = uri.split(/[?#]/, 1)[0]
  const raw = path.split('/').filter(Boolean)
  if (raw.length < API_PREFIX.length || API_PREFIX.some((p, i) => raw[i] !== p)) return undefined
  const segments = raw.slice(API_PREFIX.length).map(decodeSegment)
  const upper = method.toUpperCase()
  for (const r of ROUTES) {
    if (r.method !== upper || r.segments.length !== segments.length) continue
    const params: Record<string, string> = {}
    const matches = r.segments.every((pattern, i) => {
      const actual = segments[i]
      if (actual === undefined || actual === '') return false
      if (isParam(pattern)) {
        params[pattern.slice(1, -1)] = actual
        return true
      }
      return pattern === actual
    })
    if (matches) return { name: r.name, params }
  }
  return undefined
}
