// Which database failures are worth a retry: the caller answers them with 503 + Retry-After, and
// EventBridge delivers the event again later. Anything else is a bug or bad data and must not be hidden.

// Prisma error codes for an unreachable, timed-out, exhausted or conflicting database.
const PRISMA_TRANSIENT = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034', 'P2037'])

// Driver-adapter error kinds with the same meaning.
const ADAPTER_TRANSIENT = new Set([
  'SocketTimeout', 'DatabaseNotReachable', 'ConnectionClosed', 'TooManyConnections',
  'TransactionWriteConflict', 'TransactionAlreadyClosed'
])

// SQLite primary codes: busy/locked past the busy timeout, read-only or full disk, I/O errors, no file.
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED|READONLY|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/

// PostgreSQL SQLSTATEs: connection exceptions, serialization failure, deadlock, insufficient resources,
// statement time-out / cancel, server shutting down, read-only transaction (fail-over in progress).
const PG_TRANSIENT = /^(08...|40001|40P01|53...|57014|57P0[1-4]|25006)$/

// pg and pg-pool errors that carry no code and that @prisma/adapter-pg passes through as they are: no free
// pool connection within the wait, a connection closed or lost under a query.
const PG_DRIVER_TRANSIENT = /^(timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Client was closed and is not queryable)/

function causes (err: unknown): unknown[] {
  const seen: unknown[] = []
  const queue = [err]
  while (queue.length > 0 && seen.length < 10) {
    const e = queue.shift()
    if (e === null || typeof e !== 'object' || seen.includes(e)) continue
    seen.push(e)
    const o = e as { cause?: unknown, meta?: { driverAdapterError?: unknown } }
    queue.push(o.cause, o.meta?.driverAdapterError)
  }
  return seen
}

export function isTransientDatabaseError (err: unknown): boolean {
  return causes(err).some(e => {
    const { code, kind, originalCode, name, message } = e as Record<string, unknown>
    if (name === 'PrismaClientInitializationError') return true
    if (code === undefined && typeof message === 'string' && PG_DRIVER_TRANSIENT.test(message)) return true
    if (typeof code === 'string' && (PRISMA_TRANSIENT.has(code) || SQLITE_TRANSIENT.test(code) || PG_TRANSIENT.test(code))) return true
    if (typeof kind === 'string' && ADAPTER_TRANSIENT.has(kind)) return true
    if (typeof originalCode === 'string' && (SQLITE_TRANSIENT.test(originalCode) || PG_TRANSIENT.test(originalCode))) return true
    return false
  })
}
