// The drift report: per entity, how many rows a run created, updated, deleted or found unchanged, with the
// first few ids of each change. "Unchanged" includes rows where a newer event here outranks the snapshot.
// "Refused" counts items of SaaSus's answers this service cannot take (too deep, too many values, refused by
// the schema): each left as the copy had it, with the first few listed with the reason.

/** `membership_envs`: envs SaaSus lists for a membership with no role (`roles: []`). */
export const REPORT_ENTITIES = ['tenants', 'users', 'memberships', 'role_assignments', 'membership_envs', 'roles', 'envs'] as const
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
  refused: number
  ids: { created: string[], updated: string[], deleted: string[] }
  /** The first few refused items: the row's id when the item carried it, where in the answer, and why. */
  refusals: Array<{ id: string | null, field: string, reason: string }>
}

export type Drift = Record<ReportEntity, EntityDrift>

export function emptyDrift (): Drift {
  return Object.fromEntries(REPORT_ENTITIES.map(e => [e, {
    created: 0, updated: 0, deleted: 0, unchanged: 0, refused: 0, ids: { created: [], updated: [], deleted: [] }, refusals: []
  }])) as unknown as Drift
}

export function count (drift: Drift, entity: ReportEntity, kind: ChangeKind, id: string): void {
  const d = drift[entity]
  d[kind]++
  if (kind !== 'unchanged' && d.ids[kind].length < FIRST_IDS) d.ids[kind].push(id)
}

export function refuse (drift: Drift, entity: ReportEntity, refusal: { id: string | null, field: string, reason: string }): void {
  const d = drift[entity]
  d.refused++
  if (d.refusals.length < FIRST_IDS) d.refusals.push(refusal)
}

/** The report as text, one line per entity. */
export function formatDrift (drift: Drift): string {
  return REPORT_ENTITIES.map(entity => {
    const d = drift[entity]
    const ids = (['created', 'updated', 'deleted'] as const)
      .filter(k => d.ids[k].length > 0)
      .map(k => `  ${k}: ${d.ids[k].join(', ')}${d[k] > d.ids[k].length ? ', ...' : ''}`)
    const refused = d.refusals.map(r => `  refused: ${r.id ?? '(no usable id)'} at ${r.field}: ${r.reason}`)
    if (d.refused > d.refusals.length) refused.push(`  refused: ${d.refused - d.refusals.length} more`)
    return [`${entity}: ${d.created} created, ${d.updated} updated, ${d.deleted} deleted, ${d.unchanged} unchanged${d.refused > 0 ? `, ${d.refused} refused` : ''}`, ...ids, ...refused].join('\n')
  }).join('\n')
}
