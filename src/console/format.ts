// Small helpers the console's templates use (as `it.h`): how times, JSON and links are written.

/** A time as `2026-12-02 10:33:12Z` (UTC, seconds). */
const time = (value: Date | string | null | undefined): string => {
  if (value === null || value === undefined) return '—'
  return new Date(value).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')
}

/** A JSON value, indented for a <pre>. */
const json = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'null'

/** A query string from the set (non-empty) values, with its `?`, or '' when there are none. */
const query = (values: Record<string, string | number | undefined | null>): string => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

/** A path segment (an id may hold any character). */
const seg = (value: string | number): string => encodeURIComponent(String(value))

export const helpers = { time, json, query, seg }
export type Helpers = typeof helpers
