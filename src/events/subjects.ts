import { MAX_ID_LENGTH } from '../schemas/ids.js'
import type { DecodedEvent } from './decode.js'
import type { Plan } from './changes.js'

/** The tenant and the user a SaaSus call names (null where it names none), stored on its event's row. */
export interface Subjects {
  tenantId: string | null
  userId: string | null
}

/** An id worth an index entry: longer ids are refused as keys (changes.ts), so no row can be about them. */
const kept = (id: string | undefined): string | null => id === undefined || id.length > MAX_ID_LENGTH ? null : id

/**
 * Whom an event is about, whatever its outcome (stale and ignored events too): the ids its uri names
 * (tenant ops: the tenant; user ops: the user; membership and role ops: both), else, for the creations
 * whose id only the response carries, the tenant or user its plan creates. Pure and cheap: it runs for
 * every stored event.
 */
export function eventSubjects (event: DecodedEvent, plan: Plan): Subjects {
  const params = event.operation?.params
  let tenantId = params?.tenant_id
  let userId = params?.user_id
  if (plan.kind === 'changes' && (tenantId === undefined || userId === undefined)) {
    for (const change of plan.changes) {
      if (change.kind !== 'register') continue
      if (change.entity === 'tenant') tenantId ??= String(change.key.id)
      else if (change.entity === 'user') userId ??= String(change.key.id)
    }
  }
  return { tenantId: kept(tenantId), userId: kept(userId) }
}
