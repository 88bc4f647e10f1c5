import { Worker } from 'node:worker_threads'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import type { SqlDriverAdapterFactory } from '@prisma/client/runtime/client'
import { rawText, type BatchItem } from '../writing/batch-write.js'
import type { SqlDriverAdapter, TransactionLimits } from './driver-adapter.js'
import { fromWire, type BatchReply, type IsolationLevel, type SqlQuery, type ThreadRequest, type WriterOptions, type WriterReply, type WriterRequest } from './sqlite-writer-messages.js'

// better-sqlite3 is synchronous: a commit that waits for its flush (fsync; 5-20 ms on cloud volumes) would
// block the event loop, so that no request is read meanwhile and the next group commit cannot grow. The one
// write connection lives in a worker thread instead (sqlite-writer-thread.ts, one thread per process). What
// arrives while a commit waits for its flush is read, and queues for the next batch, as on PostgreSQL, where
// the flush happens in the server. Reads are synchronous too: a page of megabytes, or a thousand followers'
// pages, would stop intake and probes for as long as SQLite reads them (issue 25). So the read-only
// connection lives in a second thread of the same kind, the reader thread, and the event loop only waits.
//
// The client Prisma builds on this sees one driver adapter (SqliteWriterAdapter): SELECTs outside a
// transaction in the reader thread, everything else (writes, PRAGMAs, transactions, scripts) in the writer
// thread, one message per statement. Event batches skip that: one message per batch (SqliteWriter.writeBatch),
// the whole transaction run in the thread.

/** Starts the thread's module, which is beside this one. */
function startThread (): Worker {
  /* c8 ignore next 2 -- the built service (dist/) runs the compiled module; tests run from src/ */
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-writer-thread.js', import.meta.url))
  // TypeScript (tests, benches): the thread registers tsx itself (a loader given by `--import` does not carry
  // over to it), and none of the test runner's loaders.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const thread = JSON.stringify(new URL('./sqlite-writer-thread.ts', import.meta.url).href)
  return new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${thread}) })`, { eval: true, execArgv: [] })
}

/** What better-sqlite3 throws on a closed connection; the same after the writer is closed. */
const notOpen = (): TypeError => new TypeError('The database connection is not open')

/** The two threads: the one write connection, and the read-only one. */
export type ThreadRole = 'writer' | 'reader'

interface Pending {
  connection: number
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * The process's writer (or reader) thread, shared by every SQLite database the process opens (one in the
 * service, many in a test run): its modules load once. Requests are posted with an id and answered once each.
 */
export class WriterThread {
  static readonly #shared = new Map<ThreadRole, Promise<WriterThread>>()
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #nextConnection = 1
  /** Set when the thread stopped on its own (a crash): every request fails with it. */
  #stopped: Error | undefined

  private constructor (readonly worker: Worker, readonly role: ThreadRole) {
    worker.on('message', (reply: WriterReply) => { this.#answer(reply) })
    worker.on('error', err => { this.#stop(err) })
    worker.on('exit', code => { this.#stop(new Error(`the SQLite ${role} thread exited (code ${code})`)) })
    // Only waiting requests keep the process alive (call and #answer ref and unref it).
    worker.unref()
  }

  /** The running thread of `role`, started (its modules loaded) if there is none. */
  static async shared (role: ThreadRole = 'writer'): Promise<WriterThread> {
    let thread = WriterThread.#shared.get(role)
    if (thread === undefined) WriterThread.#shared.set(role, thread = WriterThread.#start(role))
    return await thread
  }

  static async #start (role: ThreadRole): Promise<WriterThread> {
    const worker = startThread()
    await new Promise((resolve, reject) => {
      worker.once('message', resolve).once('error', reject)
    }).finally(() => { worker.removeAllListeners('message').removeAllListeners('error') })
    return new WriterThread(worker, role)
  }

  /** Whether the thread stopped on its own: its connections are gone with it. */
  get stopped (): boolean {
    return this.#stopped !== undefined
  }

  /** A number for a new connection's requests. */
  connection (): number {
    return this.#nextConnection++
  }

  async call<T> (connection: number, request: WriterRequest): Promise<T> {
    if (this.#stopped !== undefined) throw this.#stopped
    const id = this.#nextId++
    if (this.#pending.size === 0) this.worker.ref()
    return await new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { connection, resolve: resolve as (value: unknown) => void, reject })
      this.worker.postMessage({ id, connection, request } satisfies ThreadRequest)
    })
  }

  /** Fails what `connection` still waits for (it was closed under them). */
  abandon (connection: number, err: Error): void {
    for (const [id, pending] of this.#pending) if (pending.connection === connection) this.#settle(id, () => { pending.reject(err) })
  }

  #answer (reply: WriterReply): void {
    const pending = this.#pending.get(reply.id)
    /* c8 ignore next -- posted while its connection was closing, answered after: its caller was told already */
    if (pending === undefined) return
    this.#settle(reply.id, () => { if (reply.ok) pending.resolve(reply.value); else pending.reject(fromWire(reply.error)) })
  }

  #settle (id: number, settle: () => void): void {
    this.#pending.delete(id)
    if (this.#pending.size === 0) this.worker.unref()
    settle()
  }

  #stop (err: Error): void {
    if (this.#stopped !== undefined) return
    this.#stopped = new Error(`the SQLite ${this.role} thread stopped: ${err.message}`, { cause: err })
    // The next database opened starts a new thread.
    WriterThread.#shared.delete(this.role)
    for (const [id, { reject }] of this.#pending) this.#settle(id, () => { reject(this.#stopped) })
  }
}

/** One database's write (or read) connection in the writer (or reader) thread, seen from the main thread. */
export class SqliteWriter {
  #closed = false

  private constructor (readonly thread: WriterThread, private readonly connection: number) {}

  /** Opens the database's connection in the thread (starting the thread if need be): a reader's is read-only. */
  static async open (options: WriterOptions, role: ThreadRole = 'writer'): Promise<SqliteWriter> {
    const thread = await WriterThread.shared(role)
    const writer = new SqliteWriter(thread, thread.connection())
    await thread.call(writer.connection, { op: 'open', options: { ...options, readOnly: role === 'reader' } })
    return writer
  }

  /** Posts a request; resolves with its answer, or rejects with the error it met (made again on this side). */
  async call<T> (request: Exclude<WriterRequest, { op: 'open' }>): Promise<T> {
    if (this.#closed) {
      // Ending a transaction on a closed connection only lets it go, as the adapter's own does.
      if (request.op === 'commit' || request.op === 'rollback') return undefined as T
      throw notOpen()
    }
    return await this.thread.call<T>(this.connection, request)
  }

  /**
   * Writes a batch of events in one transaction in the thread (writeBatch, within `limits`): one message
   * each way. The events travel without their request and response bodies, which their redacted copy holds,
   * and that copy as its JSON text (BatchItem.raw): a string is copied whole, where a structured clone of the
   * object graph cost the thread more to read than the text costs here to write, and the thread wrote the
   * same text again for the inbox row.
   */
  async writeBatch (items: BatchItem[], receivedAt: Date, feed: boolean, limits: TransactionLimits): Promise<BatchReply> {
    const slim = items.map(item => ({
      event: { ...item.event, requestBody: null, responseBody: null, redacted: null },
      plan: item.plan,
      raw: rawText(item)
    }))
    return await this.call<BatchReply>({ op: 'batch', items: slim, receivedAt, feed, limits })
  }

  /**
   * Closes the write connection once the work posted before has been answered. What still waits then (a
   * transaction waiting for its turn) fails as on a closed connection. A stopped thread has nothing to close.
   */
  async close (): Promise<void> {
    if (this.#closed || this.thread.stopped) return
    try {
      await this.call({ op: 'close' })
    } finally {
      this.#closed = true
      this.thread.abandon(this.connection, notOpen())
    }
  }
}

/** A SELECT outside a transaction, which the read connection answers. */
const READ = /^\s*SELECT\b/i

/** A transaction in the writer thread, statement by statement. */
class WriterTransaction {
  readonly provider = 'sqlite'
  readonly options = { usePhantomQuery: false }

  constructor (private readonly writer: SqliteWriter, private readonly id: number, readonly adapterName: string) {}

  async queryRaw (query: SqlQuery): Promise<Awaited<ReturnType<SqlDriverAdapter['queryRaw']>>> {
    return await this.writer.call({ op: 'query', query, tx: this.id })
  }

  async executeRaw (query: SqlQuery): Promise<number> {
    return await this.writer.call({ op: 'execute', query, tx: this.id })
  }

  async commit (): Promise<void> {
    await this.writer.call({ op: 'commit', tx: this.id })
  }

  async rollback (): Promise<void> {
    await this.writer.call({ op: 'rollback', tx: this.id })
  }
}

/** The driver adapter Prisma's SQLite client runs on: reads in the reader thread, the rest in the writer thread. */
export class SqliteWriterAdapter implements SqlDriverAdapter {
  readonly provider = 'sqlite'

  constructor (readonly reader: SqliteWriter, readonly writer: SqliteWriter, readonly adapterName: string) {}

  async queryRaw (query: SqlQuery): ReturnType<SqlDriverAdapter['queryRaw']> {
    return await (READ.test(query.sql) ? this.reader : this.writer).call(({ op: 'query', query }))
  }

  async executeRaw (query: SqlQuery): Promise<number> {
    return await this.writer.call({ op: 'execute', query })
  }

  async executeScript (script: string): Promise<void> {
    await this.writer.call({ op: 'script', script })
  }

  async startTransaction (isolationLevel?: IsolationLevel): Promise<WriterTransaction> {
    const id = await this.writer.call<number>({ op: 'begin', isolationLevel })
    return new WriterTransaction(this.writer, id, this.adapterName)
  }

  async dispose (): Promise<void> {
    try {
      await this.writer.close()
    } finally {
      await this.reader.close()
    }
  }
}

/**
 * Prisma's adapter factory for a SQLite file: each connection is a read-only connection in the reader thread
 * (`query_only`: a write that would bypass the writer fails loudly) and a write connection in the writer thread.
 */
export function sqliteWriterAdapterFactory (options: WriterOptions): SqlDriverAdapterFactory {
  const driver = new PrismaBetterSqlite3({ url: `file:${options.path}`, timeout: options.busyTimeoutMs })
  return {
    provider: driver.provider,
    adapterName: driver.adapterName,
    connect: async () => {
      const reader = await SqliteWriter.open(options, 'reader')
      try {
        return new SqliteWriterAdapter(reader, await SqliteWriter.open(options), driver.adapterName)
      } catch (err) {
        await reader.close()
        throw err
      }
    }
  }
}
