import type { Static, TSchema } from '@sinclair/typebox'
import type { SaasusClient } from '../saasus/client.js'
import { SaasusEnv, SaasusRole, SaasusSaasUser, SaasusTenant, SaasusTenantUser } from '../schemas/saasus-api.js'

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
  const list = async <S extends TSchema>(path: string, field: string, item: S): Promise<Array<Static<S>>> => {
    const answer = await client.list(path, field, item)
    await between()
    return answer
  }
  const tenants = await list('/tenants', 'tenants', SaasusTenant)
  const users = await list('/users', 'users', SaasusSaasUser)
  const memberships = await list('/tenants/all/users', 'users', SaasusTenantUser)
  const roles = await list('/roles', 'roles', SaasusRole)
  const envs = await list('/envs', 'envs', SaasusEnv)
  return { tenants, users, memberships, roles, envs }
}
