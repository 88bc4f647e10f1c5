// Which database failures the written values themselves caused: the same values fail the same way however
// often they are sent again, so an event that causes one is refused (400, quarantined with the reason), not
// answered 500 for EventBridge to retry for 24 hours. Transient failures (transient.ts) are the other kind.

// PostgreSQL SQLSTATE classes 22 (data exception: out of range, invalid text representation, an invalid
// byte sequence, a string too long) and 23 (integrity constraint violation), and 54000 (program limit
// exceeded: an index row larger than a B-tree page allows).
const PG_DATA = /^(22...|23...|54000)$/

// SQLite primary codes: a string or blob too big, a datatype mismatch, a constraint, a parameter out of range.
const SQLITE_DATA = /^SQLITE_(TOOBIG|MISMATCH|CONSTRAINT|RANGE)/

interface DatabaseCause { code: string, message: string }

/** The error and the errors it wraps (a driver adapter's error inside Prisma's, its `cause`). */
function causes (err: unknown): Array<Record<string, unknown>> {
  const seen: Array<Record<string, unknown>> = []
  const queue = [err]
  while (queue.length > 0 && seen.length < 10) {
    const e = queue.shift()
    if (e === null || typeof e !== 'object' || seen.includes(e as Record<string, unknown>)) continue
    const o = e as Record<string, unknown> & { meta?: { driverAdapterError?: unknown } }
    seen.push(o)
    queue.push(o.cause, o.meta?.driverAdapterError)
  }
  return seen
}

/** The database's code and message when `err` is a failure caused by the written values, else undefined. */
function dataCause (err: unknown): DatabaseCause | undefined {
  for (const e of causes(err)) {
    // A driver adapter's error carries the database's own code and message as originalCode/originalMessage;
    // pg's and better-sqlite3's errors as code/message.
    const code = typeof e.originalCode === 'string' ? e.originalCode : e.code
    if (typeof code !== 'string' || !(PG_DATA.test(code) || SQLITE_DATA.test(code))) continue
    const message = typeof e.originalMessage === 'string' ? e.originalMessage : String(e.message)
    return { code, message }
  }
  return undefined
}

/**
 * Why the database refused what was written, as a refusal's message (`could not be stored: <the database's
 * message> (<code>)`), or undefined when `err` is not a failure caused by the values.
 */
export function dataErrorReason (err: unknown): string | undefined {
  const cause = dataCause(err)
  return cause === undefined ? undefined : `could not be stored: ${cause.message} (${cause.code}); refused, not retried`
}
