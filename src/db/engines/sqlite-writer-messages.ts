import { PrismaClientKnownRequestError } from '@prisma/client/runtime/client'
import type { BatchItem, Outcome } from '../writing/batch-write.js'
import type { FeedEntity } from '../feed/feed-views.js'
import { TransactionLimitError, type SqlDriverAdapter, type TransactionLimits } from './driver-adapter.js'

// What the main thread and the SQLite writer thread (sqlite-writer-thread.ts) say to each other: a connection
// opened per database, then one request per statement of Prisma's own queries and transactions, one per batch of events, each answered once.
// Errors cross as plain objects (a structured clone keeps neither an error's class nor its own properties)
// and are made again on this side with the name, code, kind and cause that the transient check, Prisma's
// client and the callers read.

export type SqlQuery = Parameters<SqlDriverAdapter['queryRaw']>[0]
export type IsolationLevel = Parameters<SqlDriverAdapter['startTransaction']>[0]

/** How the writer thread opens its connection. */
export interface WriterOptions {
  /** The database file's absolute path. */
  path: string
  busyTimeoutMs: number
  synchronous: string
  /** A read-only connection (the reader thread's): `query_only`, and no `synchronous` to set. */
  readOnly?: boolean
}

export type WriterRequest =
  | { op: 'open', options: WriterOptions }
  | { op: 'query' | 'execute', query: SqlQuery, tx?: number }
  | { op: 'script', script: string }
  | { op: 'begin', isolationLevel?: IsolationLevel }
  | { op: 'commit' | 'rollback', tx: number }
  | { op: 'batch', items: BatchItem[], receivedAt: Date, feed: boolean, limits: TransactionLimits }
  | { op: 'close' }

/** A request as posted to the thread: its id (for the reply) and the connection (database) it is for. */
export interface ThreadRequest { id: number, connection: number, request: WriterRequest }

/** A batch's outcomes, and what its change feed entries were (FeedWrite's fields; none when it recorded none). */
export interface BatchReply {
  outcomes: Outcome[]
  head: number | undefined
  entries: Array<{ entity: FeedEntity, op: 'upsert' | 'delete' }>
  /** FeedWrite.planDueAt: the soonest instant a plan reservation the batch left pending takes effect. */
  planDueAt: number | undefined
}

/** An error as a plain object: its name, message, stack and own properties, with causes the same way. */
export interface WireError {
  wireError: true
  name: string
  message: string
  stack?: string
  props: Record<string, unknown>
}

export type WriterReply = { id: number, ok: true, value: unknown } | { id: number, ok: false, error: unknown }

/** `value` with every Error in it (as itself, a cause, or a property) made a WireError; other values as they are. */
export function toWire (value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(v => toWire(v, depth + 1))
  const props: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) props[key] = toWire(v, depth + 1)
  if (!(value instanceof Error)) return props
  // `cause` is an own property that Object.entries may not list (defined non-enumerable by `new Error(m, { cause })`).
  if ('cause' in value && !('cause' in props)) props.cause = toWire(value.cause, depth + 1)
  return { wireError: true, name: value.name, message: value.message, stack: value.stack, props } satisfies WireError
}

const isWireError = (value: unknown): value is WireError => (value as WireError | null)?.wireError === true

/** JavaScript's own error classes, made again as themselves (a bug's TypeError stays a TypeError). */
const STANDARD: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError }

/** The inverse of toWire: errors made again, as TransactionLimitError or Prisma's known request error where they were. */
export function fromWire (value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  if (Array.isArray(value)) return value.map(fromWire)
  if (!isWireError(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]))
  const props = fromWire(value.props) as Record<string, unknown>
  let err: Error
  if (value.name === 'TransactionLimitError') err = new TransactionLimitError(value.message)
  else if (value.name === 'PrismaClientKnownRequestError') {
    err = new PrismaClientKnownRequestError(value.message, { code: props.code as string, clientVersion: props.clientVersion as string, meta: props.meta as Record<string, unknown> })
  } else {
    err = new (STANDARD[value.name] ?? Error)(value.message)
    err.name = value.name
  }
  // Where it was thrown, in the writer thread.
  err.stack = value.stack
  for (const [key, v] of Object.entries(props)) {
    if (!(key in err)) Object.defineProperty(err, key, { value: v, enumerable: key !== 'cause', writable: true, configurable: true })
  }
  return err
}
