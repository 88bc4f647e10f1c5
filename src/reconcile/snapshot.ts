import type { Static, TSchema } from '@sinclair/typebox'
import type { SaasusClient } from '../saasus/client.js'
import {
  EnvsResponse, RolesResponse, SaasUsersResponse, TenantUsersResponse, TenantsResponse,
  type SaasusEnv, type SaasusRole, type SaasusSaasUser, type SaasusTenant, type SaasusTenantUser
} from '../schemas/saasus-api.js'

/** SaaSus's whole Auth state, as five validated answers. Only a complete snapshot is ever applied. */
export interface Snapshot {
  tenants: SaasusTenant[]
  users: SaasusSaasUser[]
  /** One item per membership (a user in a tenant). */
  memberships: SaasusTenantUser[]
  roles: SaasusRole[]
  envs: SaasusEnv[]
}

/**
 * Reads the five endpoints one after the other (gentle on SaaSus's rate limits); the first failure
 * throws, so a partial snapshot never reaches the database. `between` runs after each answer (the caller
 * renews its lease there).
 */
export async function fetchSnapshot (client: SaasusClient, between: () => Promise<void>): Promise<Snapshot> {
  const get = async <S extends TSchema>(path: string, schema: S): Promise<Static<S>> => {
    const answer = await client.get(path, schema)
    await between()
    return answer
  }
  const { tenants } = await get('/tenants', TenantsResponse)
  const { users } = await get('/users', SaasUsersResponse)
  const { users: memberships } = await get('/tenants/all/users', TenantUsersResponse)
  const { roles } = await get('/roles', RolesResponse)
  const { envs } = await get('/envs', EnvsResponse)
  return { tenants, users, memberships, roles, envs }
}
