// A version orders every change to one field: (event time in ms, method rank, envelope id). Encoded as one
// fixed-width string so that plain text comparison (SQLite BINARY, PostgreSQL COLLATE "C") is the tuple order.
// The empty string is below every version: it marks a field no event has written yet.

export type Version = string & { readonly __brand: 'Version' }

export const NO_VERSION = '' as Version

/** POST creates, PUT/PATCH update, DELETE removes: within one second a delete wins over an update. */
export function methodRank (method: string): number {
  switch (method.toUpperCase()) {
    case 'POST': return 0
    case 'DELETE': return 2
    default: return 1
  }
}

const TIME_DIGITS = 15 // enough for every millisecond up to the year 9999

export function makeVersion (timeMs: number, method: string, envelopeId: string): Version {
  return `${String(timeMs).padStart(TIME_DIGITS, '0')}:${methodRank(method)}:${envelopeId}` as Version
}

/** The event time a version carries. */
export function versionTime (version: Version): Date {
  return new Date(Number(version.slice(0, TIME_DIGITS)))
}

/**
 * The version of a reconciliation snapshot taken at `timeMs`: ranked below every event of that millisecond
 * (`-` sorts before the method ranks `0`-`2`), and unique to its run.
 */
export function snapshotVersion (timeMs: number, runId: string): Version {
  return `${String(timeMs).padStart(TIME_DIGITS, '0')}:-:reconcile:${runId}` as Version
}
