import { createHash } from 'node:crypto'
import { PrismaClientKnownRequestError, type Sql, type SqlDriverAdapterFactory } from '@prisma/client/runtime/client'
import { Prisma } from '../../generated/sqlite/client.js'
import type { Dialect } from './dialect.js'

// The event write path runs on the Prisma driver adapter's own query interface, the layer Prisma's client
// itself runs on: its interactive transactions and raw queries cost a fixed ~40-60 µs of client work per
// statement (request building, tracing spans, the transaction's actor, result deserialisation), which at
// the rate EventBridge sends (one event per transaction) was most of the receiver's CPU per event
// (docs/performance.md). The client keeps everything else: schemas, migrations, reads, the other writes.
// This file captures the adapter a client connects through, and runs transactions on it as the client
// would (BEGIN from the adapter, COMMIT or ROLLBACK sent, then the adapter told), with the client's limits:
// a wait for the transaction to start and a time-out.

export type SqlDriverAdapter = Awaited<ReturnType<SqlDriverAdapterFactory['connect']>>
type AdapterTransaction = Awaited<ReturnType<SqlDriverAdapter['startTransaction']>>
type SqlQuery = Parameters<AdapterTransaction['queryRaw']>[0]
type ArgType = SqlQuery['argTypes'][number]

/** A raw query surface the write path shares with Prisma's client: tagged SQL in, rows or a count out. */
export interface RawQueryable {
  $queryRaw: <T = unknown>(query: Sql) => PromiseLike<T>
  $executeRaw: (query: Sql) => PromiseLike<number>
}

const adapters = new WeakMap<object, () => Promise<SqlDriverAdapter>>()

/**
 * Wraps a driver adapter factory so that the adapter it connects is kept, and builds the client on it with
 * `make`: `driverAdapterOf(client)` then answers that adapter (connecting the client first if need be).
 */
export function withDriverAdapter<C extends { $connect: () => Promise<void> }> (factory: SqlDriverAdapterFactory, make: (factory: SqlDriverAdapterFactory) => C): C {
  let connected: SqlDriverAdapter | undefined
  const client = make({
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => (connected = await factory.connect())
  })
  adapters.set(client, async () => {
    if (connected === undefined) await client.$connect()
    return connected!
  })
  return client
}

/** The driver adapter a client made by withDriverAdapter runs on. */
export async function driverAdapterOf (client: object): Promise<SqlDriverAdapter> {
  const adapter = adapters.get(client)
  if (adapter === undefined) throw new Error('this database client was not opened with withDriverAdapter')
  return await adapter()
}

/** Thrown when a transaction could not start within its wait, or ran past its time-out: transient (P2028, as Prisma's). */
export class TransactionLimitError extends Error {
  override name = 'TransactionLimitError'
  readonly code = 'P2028'
}

/**
 * A driver adapter's error as Prisma's client reports a failed raw query (P2010, with the database's code in
 * the message and the adapter's error in `meta`), so that logs and the transient check read it the same.
 */
export function asPrismaError (err: unknown): unknown {
  const e = err as { name?: string, message: string, cause?: { originalCode?: string, originalMessage?: string } } | null | undefined
  if (e?.name !== 'DriverAdapterError' || e.cause === undefined) return err
  return new PrismaClientKnownRequestError(
    `Raw query failed. Code: \`${e.cause.originalCode ?? 'N/A'}\`. Message: \`${e.cause.originalMessage ?? e.message}\``,
    { code: 'P2010', clientVersion: Prisma.prismaVersion.client, meta: { driverAdapterError: err } })
}

const argType = (value: unknown): ArgType => ({
  scalarType: typeof value === 'bigint' ? 'bigint' : value instanceof Date ? 'datetime' : typeof value === 'number' ? (Number.isInteger(value) ? 'int' : 'float') : typeof value === 'boolean' ? 'boolean' : 'string',
  arity: 'scalar'
})

/**
 * The write path's statements by their text: their prepared-statement names on PostgreSQL. Unnamed, the
 * server plans every statement again on every execution (the feed's read alone took ~2.4 ms to plan); named,
 * each connection prepares it once. Only the write path's own statements are named: their texts are a small
 * fixed set (one JSON parameter per list, whatever its length), so the prepared statements stay few.
 */
const names = new Map<string, string>()
const named = new WeakSet<SqlQuery>()

/** `statementNameGenerator` for @prisma/adapter-pg: a name for the write path's statements, none for others. */
export function statementName (query: SqlQuery): string | undefined {
  if (!named.has(query)) return undefined
  let name = names.get(query.sql)
  if (name === undefined) {
    name = `w_${createHash('sha1').update(query.sql).digest('hex')}`
    names.set(query.sql, name)
  }
  return name
}

/** A tagged statement as the adapter takes it: `?` placeholders on SQLite, `$n` on PostgreSQL. */
function query (statement: Sql, dialect: Dialect): SqlQuery {
  const q = { sql: dialect.name === 'sqlite' ? statement.sql : statement.text, args: statement.values, argTypes: statement.values.map(argType) }
  named.add(q)
  return q
}

export interface TransactionLimits {
  /** Longest wait for the transaction to start (a free connection; SQLite's writer). */
  maxWaitMs: number
  /** Longest run: past it, the next statement fails and the transaction rolls back. */
  timeoutMs: number
}

/**
 * Runs `work` in one transaction on the adapter; commits when it resolves, rolls back when it throws (and
 * throws that). Rows come back as objects keyed by column name, values as the adapter gives them.
 */
export async function adapterTransaction<T> (
  adapter: SqlDriverAdapter, dialect: Dialect, limits: TransactionLimits, work: (db: RawQueryable) => Promise<T>
): Promise<T> {
  const starting = adapter.startTransaction()
  const tx = await new Promise<AdapterTransaction>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Given up on: if it starts after all, it is ended at once.
      starting.then(async late => await end(late), () => {})
      reject(new TransactionLimitError(`the transaction did not start within ${limits.maxWaitMs} ms`))
    }, limits.maxWaitMs)
    starting.then(tx => { clearTimeout(timer); resolve(tx) }, (err: unknown) => { clearTimeout(timer); reject(asPrismaError(err)) })
  })

  let expired = false
  const timer = setTimeout(() => { expired = true }, limits.timeoutMs)
  const checked = (statement: Sql): SqlQuery => {
    if (expired) throw new TransactionLimitError(`the transaction ran past its time-out of ${limits.timeoutMs} ms`)
    return query(statement, dialect)
  }
  const db: RawQueryable = {
    $queryRaw: async <R>(statement: Sql) => {
      const { columnNames, rows } = await tx.queryRaw(checked(statement))
      return rows.map(row => Object.fromEntries(columnNames.map((name, i) => [name, row[i]]))) as R
    },
    $executeRaw: async statement => await tx.executeRaw(checked(statement))
  }
  try {
    const result = await work(db)
    if (expired) throw new TransactionLimitError(`the transaction ran past its time-out of ${limits.timeoutMs} ms`)
    await tx.executeRaw({ sql: 'COMMIT', args: [], argTypes: [] })
    await tx.commit()
    return result
  } catch (err) {
    await end(tx)
    throw asPrismaError(err)
  } finally {
    clearTimeout(timer)
  }
}

/** Rolls a transaction back, then releases it to the adapter whatever the ROLLBACK did. */
async function end (tx: AdapterTransaction): Promise<void> {
  try {
    await tx.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] })
  } catch {
    // The transaction is gone already (a failed COMMIT, a lost connection): nothing left to roll back.
  } finally {
    await tx.rollback()
  }
}
