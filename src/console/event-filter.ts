import type { EventCursor, EventFilter } from '../db/console/console-reads.js'
import type { EventsQuery } from '../schemas/console.js'

// The event list's query string, as the filter form sends it, into the repository's filter and cursor.

export class BadQueryError extends Error {
  override name = 'BadQueryError'
  readonly statusCode = 400
}

const set = (value: string | undefined): string | undefined => value === undefined || value === '' ? undefined : value

/** A time from the form: datetime-local has no zone, and is read as UTC (as every time here is shown). */
function time (name: 'from' | 'to', value: string | undefined): Date | undefined {
  const text = set(value)
  if (text === undefined) return undefined
  const date = new Date(/(Z|[+-]\d\d:\d\d)$/.test(text) ? text : `${text}Z`)
  if (Number.isNaN(date.getTime())) throw new BadQueryError(`querystring/${name}: not a time: ${text}`)
  return date
}

export function eventFilter (query: EventsQuery): EventFilter {
  return { type: set(query.type), outcome: set(query.outcome), tenant: set(query.tenant), user: set(query.user), from: time('from', query.from), to: time('to', query.to) }
}

export const encodeCursor = (cursor: EventCursor): string => Buffer.from(JSON.stringify([cursor.receivedAt.toISOString(), cursor.id])).toString('base64url')

export function decodeCursor (text: string | undefined): EventCursor | undefined {
  if (set(text) === undefined) return undefined
  try {
    const [at, id] = JSON.parse(Buffer.from(text!, 'base64url').toString('utf8')) as unknown[]
    const receivedAt = new Date(at as string)
    // (U+0000: PostgreSQL refuses it in text, and no id holds one.)
    if (typeof at === 'string' && typeof id === 'string' && !id.includes('\u0000') && !Number.isNaN(receivedAt.getTime())) return { receivedAt, id }
  } catch {}
  throw new BadQueryError('querystring/after: the page cursor is not one this console gave out')
}
