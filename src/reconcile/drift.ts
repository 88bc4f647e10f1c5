// The drift report: per entity, how many rows a run created, updated, deleted or found unchanged, with the
// first few ids of each change. "Unchanged" includes rows where a newer event here outranks the snapshot.

export const REPORT_ENTITIES = ['tenants', 'users', 'memberships', 'role_assignments', 'roles', 'envs'] as const
export type ReportEntity = typeof REPORT_ENTITIES[number]
export const CHANGE_KINDS = ['created', 'updated', 'deleted', 'unchanged'] as const
export type ChangeKind = typeof CHANGE_KINDS[number]

/** How many ids of each change a report lists. */
export const FIRST_IDS = 5

export interface EntityDrift {
  created: number
  updated: number
  deleted: number
  unchanged: number
  ids: { created: string[], updated: string[], deleted: string[] }
}

export type Drift = Record<ReportEntity, EntityDrift>

export function emptyDrift (): Drift {
  return Object.fromEntries(REPORT_ENTITIES.map(e => [e, {
    created: 0, updated: 0, deleted: 0, unchanged: 0, ids: { created: [], updated: [], deleted: [] }
  }])) as unknown as Drift
}

export function count (drift: Drift, entity: ReportEntity, kind: ChangeKind, id: string): void {
  const d = drift[entity]
  d[kind]++
  if (kind !== 'unchanged' && d.ids[kind].length < FIRST_IDS) d.ids[kind].push(id)
}

/** The report as text, one line per entity. */
export function formatDrift (drift: Drift): string {
  return REPORT_ENTITIES.map(entity => {
    const d = drift[entity]
    const ids = (['created', 'updated', 'deleted'] as const)
      .filter(k => d.ids[k].length > 0)
      .map(k => `  ${k}: ${d.ids[k].join(', ')}${d[k] > d.ids[k].length ? ', ...' : ''}`)
    return [`${entity}: ${d.created} created, ${d.updated} updated, ${d.deleted} deleted, ${d.unchanged} unchanged`, ...ids].join('\n')
  }).join('\n')
}
