import type { Change } from '../../events/changes.js'
import { ENTITIES, type Entity } from '../../events/entities.js'
import type { Version } from '../../events/version.js'
import type { PlanOp } from '../../events/plan-state.js'

// Group commit writes many events' changes in one transaction, with one multi-row statement per table.
// A row may be touched by several events of a batch (PostgreSQL refuses an ON CONFLICT statement that
// touches one row twice), so the batch's changes are first collapsed: per row and per register, the
// value with the greatest version wins, and remembers which event wrote it. Pure; no I/O.

/** One register's winning write in a batch, and the index of the event it came from. */
export interface Winner {
  value: unknown
  version: Version
  owner: number
}

export interface CollapsedRow {
  entity: Entity
  key: Record<string, string | number>
  /** `live` and every carried field, by column name. */
  registers: Map<string, Winner>
  /** The newest delete in the batch, for entities whose deletes cascade. */
  deleted: Winner | undefined
}

export interface CollapsedAttribute {
  scope: string
  tenantId: string
  userId: string
  key: string
  winner: Winner
}

/** A tenant's plan change (events/plan-state.ts), and the index of the event it came from. */
export interface CollapsedPlanChange {
  tenantId: string
  version: Version
  op: PlanOp
  owner: number
}

export interface Collapsed {
  rows: CollapsedRow[]
  attributes: CollapsedAttribute[]
  /** One per tenant and version (a version names one event, or one instant of one reservation). */
  plans: CollapsedPlanChange[]
}

function offer (current: Winner | undefined, candidate: Winner): Winner {
  return current === undefined || candidate.version > current.version ? candidate : current
}

/** Collapses the changes of a batch, `changes[i]` being the changes of event i. */
export function collapse (changes: Change[][]): Collapsed {
  const rows = new Map<string, CollapsedRow>()
  const attributes = new Map<string, CollapsedAttribute>()
  const plans = new Map<string, CollapsedPlanChange>()
  changes.forEach((list, owner) => {
    for (const change of list) {
      if (change.kind === 'plan') {
        const id = JSON.stringify([change.tenantId, change.version])
        if (!plans.has(id)) plans.set(id, { tenantId: change.tenantId, version: change.version, op: change.op, owner })
        continue
      }
      if (change.kind === 'attributes') {
        for (const [key, value] of Object.entries(change.values)) {
          const id = JSON.stringify([change.scope, change.tenantId, change.userId, key])
          const existing = attributes.get(id)
          const winner = offer(existing?.winner, { value: value ?? null, version: change.version, owner })
          attributes.set(id, { scope: change.scope, tenantId: change.tenantId, userId: change.userId, key, winner })
        }
        continue
      }
      const def = ENTITIES[change.entity]
      const id = JSON.stringify([change.entity, ...def.keys.map(k => change.key[k])])
      let row = rows.get(id)
      if (row === undefined) {
        row = { entity: change.entity, key: change.key, registers: new Map(), deleted: undefined }
        rows.set(id, row)
      }
      const write = (register: string, value: unknown) =>
        row!.registers.set(register, offer(row!.registers.get(register), { value, version: change.version, owner }))
      write('live', change.live)
      for (const [field, value] of Object.entries(change.fields)) write(field, value ?? null)
      if (def.cascades && !change.live) row.deleted = offer(row.deleted, { value: null, version: change.version, owner })
    }
  })
  return { rows: [...rows.values()], attributes: [...attributes.values()], plans: [...plans.values()] }
}
