import type { Static, TSchema } from '@sinclair/typebox'
import type { ValidationProblem } from '../events/checker.js'
import { SaasusApiError, type SaasusClient } from '../saasus/client.js'
import { SaasusEnv, SaasusRole, SaasusSaasUser, SaasusTenant, SaasusTenantUser } from '../schemas/saasus-api.js'
import { WorkSlice } from '../work-slice.js'
import type { ReportEntity } from './drift.js'

/**
 * An item of an answer this service cannot take (too deep, too many values, or refused by its schema): left
 * out of the snapshot and reported. `key` identifies the row it stands for when the item carries its id
 * (tenants and users `id`, memberships `tenant_id` and `id`, roles `role_name`, envs `id`); the run then
 * leaves that row as it is (never deletes it).
 */
export interface Refusal {
  entity: ReportEntity
  key: Record<string, string | number> | undefined
  field: string
  reason: string
}

/** SaaSus's whole Auth state, as five validated answers. Only a complete snapshot is ever applied. */
export interface Snapshot {
  tenants: SaasusTenant[]
  users: SaasusSaasUser[]
  /** One item per membership (a user in a tenant). */
  memberships: SaasusTenantUser[]
  roles: SaasusRole[]
  envs: SaasusEnv[]
  /** Items left out, in answer order. */
  refused: Refusal[]
}

const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
const integer = (v: unknown): number | undefined => Number.isSafeInteger(v) && (v as number) >= 0 ? v as number : undefined

/** The key of the row a refused item stands for, read from the item's own fields when they are usable. */
function keyOf (entity: ReportEntity, item: unknown): Record<string, string | number> | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined
  const o = item as Record<string, unknown>
  const fields: Record<string, string | number | undefined> = entity === 'memberships'
    ? { tenant_id: text(o.tenant_id), user_id: text(o.id) }
    : entity === 'roles' ? { role_name: text(o.role_name) } : { id: entity === 'envs' ? integer(o.id) : text(o.id) }
  return Object.values(fields).every(v => v !== undefined) ? fields as Record<string, string | number> : undefined
}

/** Longest computation over an answer before the event loop gets a turn (ms). */
const SLICE_MS = 5
/** Longest id quoted in an error. */
const QUOTED_ID = 100

const quote = (id: string): string => JSON.stringify(id.length > QUOTED_ID ? `${id.slice(0, QUOTED_ID)}…` : id)

/**
 * Refuses an answer naming the same thing twice: SaaSus's state has one of each, so two items with one id
 * (with the same values or not) mean a broken answer, and applying either would be a guess (applying both
 * made every run flip the values and report them updated).
 */
async function unique<T> (path: string, items: T[], key: (item: T) => string, describe: (item: T) => string): Promise<void> {
  const seen = new Set<string>()
  const slice = new WorkSlice(SLICE_MS)
  for (const item of items) {
    const k = key(item)
    if (seen.has(k)) throw new SaasusApiError(`GET /v1/auth${path}: malformed answer: ${describe(item)} appears twice`, false)
    seen.add(k)
    await slice.turn()
  }
}

/**
 * Reads the five endpoints one after the other (gentle on SaaSus's rate limits); the first failure
 * throws, so a partial snapshot never reaches the database. An item that cannot be taken is a refusal, not
 * a failure. `between` runs after each answer (the caller renews its lease there).
 */
export async function fetchSnapshot (client: SaasusClient, between: () => Promise<void>): Promise<Snapshot> {
  const refused: Refusal[] = []
  const list = async <S extends TSchema>(path: string, field: string, item: S, entity: ReportEntity, key: (item: Static<S>) => string, describe: (item: Static<S>) => string): Promise<Array<Static<S>>> => {
    const refuse = (problem: ValidationProblem, value: unknown): void => {
      refused.push({ entity, key: keyOf(entity, value), field: `GET /v1/auth${path} ${problem.field}`, reason: problem.message })
    }
    const answer = await client.list(path, field, item, refuse)
    await unique(path, answer, key, describe)
    await between()
    return answer
  }
  const tenants = await list('/tenants', 'tenants', SaasusTenant, 'tenants', t => t.id, t => `the tenant id ${quote(t.id)}`)
  const users = await list('/users', 'users', SaasusSaasUser, 'users', u => u.id, u => `the user id ${quote(u.id)}`)
  const memberships = await list('/tenants/all/users', 'users', SaasusTenantUser, 'memberships', m => JSON.stringify([m.tenant_id, m.id]),
    m => `the membership of user ${quote(m.id)} in tenant ${quote(m.tenant_id)}`)
  const roles = await list('/roles', 'roles', SaasusRole, 'roles', r => r.role_name, r => `the role name ${quote(r.role_name)}`)
  const envs = await list('/envs', 'envs', SaasusEnv, 'envs', e => String(e.id), e => `the env id ${String(e.id)}`)
  return { tenants, users, memberships, roles, envs, refused }
}
