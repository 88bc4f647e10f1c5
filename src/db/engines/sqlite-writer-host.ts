import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { FeedWrite, writeBatch } from '../writing/batch-write.js'
import { adapterTransaction, type SqlDriverAdapter } from './driver-adapter.js'
import { sqliteDialect } from './dialect.js'
import { withStatementCache } from './statement-cache.js'
import type { BatchReply, ThreadRequest, WriterOptions, WriterRequest } from './sqlite-writer-messages.js'

type AdapterTransaction = Awaited<ReturnType<SqlDriverAdapter['startTransaction']>>

/**
 * The SQLite writer thread's side: the one write connection (Prisma's better-sqlite3 adapter with the
 * statement cache, at SQLITE_SYNCHRONOUS) and what the main thread asks of it. A batch of events is written
 * here whole (writeBatch inside adapterTransaction: one message each way); Prisma's own statements and
 * transactions come one statement a message. Transactions take the adapter's turn one at a time, as they
 * did on the main thread; what waits for a commit's flush now waits here, while the main thread reads the
 * next requests.
 */
export class WriterHost {
  readonly #transactions = new Map<number, AdapterTransaction>()
  #nextTransaction = 1

  private constructor (private readonly adapter: SqlDriverAdapter) {}

  static async open (options: WriterOptions): Promise<WriterHost> {
    const factory = withStatementCache(new PrismaBetterSqlite3({ url: `file:${options.path}`, timeout: options.busyTimeoutMs }))
    const adapter = await factory.connect()
    try {
      // Per connection: FULL syncs the WAL on every commit. A reader's writes fail loudly instead.
      const pragma = options.readOnly === true ? 'query_only = 1' : `synchronous = ${options.synchronous}`
      await adapter.executeRaw({ sql: `PRAGMA ${pragma}`, args: [], argTypes: [] })
    } catch (err) {
      await adapter.dispose()
      throw err
    }
    return new WriterHost(adapter)
  }

  /** Answers one request: what the adapter (or the batch) returned, or throws what it threw. */
  async handle (request: Exclude<WriterRequest, { op: 'open' }>): Promise<unknown> {
    switch (request.op) {
      case 'query': return await this.#on(request.tx).queryRaw(request.query)
      case 'execute': return await this.#on(request.tx).executeRaw(request.query)
      case 'script': return await this.adapter.executeScript(request.script)
      case 'begin': {
        const tx = await this.adapter.startTransaction(request.isolationLevel)
        const id = this.#nextTransaction++
        this.#transactions.set(id, tx)
        return id
      }
      case 'commit':
      case 'rollback': {
        const tx = this.#transaction(request.tx)
        this.#transactions.delete(request.tx)
        return await (request.op === 'commit' ? tx.commit() : tx.rollback())
      }
      case 'batch': return await this.#batch(request)
      case 'close': return await this.adapter.dispose()
    }
  }

  async #batch ({ items, receivedAt, feed, limits }: Extract<WriterRequest, { op: 'batch' }>): Promise<BatchReply> {
    const write = new FeedWrite()
    const outcomes = await adapterTransaction(this.adapter, sqliteDialect, limits, async db => {
      write.restart()
      return await writeBatch(db, sqliteDialect, items, receivedAt, feed ? write : null)
    })
    return { outcomes, head: write.head, entries: write.entries, planDueAt: write.planDueAt }
  }

  #on (tx: number | undefined): SqlDriverAdapter | AdapterTransaction {
    return tx === undefined ? this.adapter : this.#transaction(tx)
  }

  #transaction (id: number): AdapterTransaction {
    const tx = this.#transactions.get(id)
    if (tx === undefined) throw new Error(`no open transaction ${id} on the SQLite writer`)
    return tx
  }
}

/** The writer thread's connections, one WriterHost per database the process opened, by connection number. */
export class WriterHosts {
  readonly #hosts = new Map<number, WriterHost>()

  /** Answers one request posted to the thread: opens, closes, or hands it to its connection's host. */
  async handle ({ connection, request }: ThreadRequest): Promise<unknown> {
    if (request.op === 'open') {
      this.#hosts.set(connection, await WriterHost.open(request.options))
      return undefined
    }
    const host = this.#hosts.get(connection)
    if (host === undefined) throw new TypeError('The database connection is not open')
    if (request.op === 'close') this.#hosts.delete(connection)
    return await host.handle(request)
  }
}
