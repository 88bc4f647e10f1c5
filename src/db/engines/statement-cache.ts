import type Database from 'better-sqlite3'
import type { SqlDriverAdapterFactory } from '@prisma/client/runtime/client'

// Prisma's better-sqlite3 adapter prepares every statement anew on each call (`client.prepare(sql).bind(args)`)
// and better-sqlite3 keeps no cache, so SQLite parses and plans the same few upserts on every batch (about a
// quarter of their cost). This keeps the last prepared statements per SQL text and hands the adapter a
// thin statement that binds its arguments per call instead of for good.

type Statement = Database.Statement<unknown[]>

/**
 * A prepared statement, and its result columns once asked for: the adapter asks on every query, and
 * better-sqlite3 builds them anew each time, though they are fixed once the statement is prepared (the
 * schema does not change under a running service: migrations run before it opens the database).
 */
interface Cached { statement: Statement, columns?: Database.ColumnDefinition[], stamp: number }

/** The statement surface the adapter uses: `reader`, `bind`, `run`, `columns`, `raw().all()`. */
class Reused {
  #args: unknown[] = []
  readonly statement: Statement
  constructor (private readonly cached: Cached) { this.statement = cached.statement }
  get reader (): boolean { return this.statement.reader }
  bind (args: unknown[]): this { this.#args = args; return this }
  run (): Database.RunResult { return this.statement.run(...this.#args) }
  columns (): Database.ColumnDefinition[] { return (this.cached.columns ??= this.statement.columns()) }
  raw (): { all: () => unknown[] } {
    const statement = this.statement.raw(true)
    return { all: () => statement.all(...this.#args) }
  }
}

/**
 * Makes `db.prepare` answer from a small cache of prepared statements, the least recently used leaving a full
 * one. A hit is one lookup: the texts are long (the feed's read is a UNION ALL of up to ten parts), built anew
 * per call, and every lookup hashes and compares the whole text, so a used statement moves to the newest end
 * only once it is in the older half (`stamp`: insertions so far). One used at least once per size / 2
 * insertions is never evicted.
 */
export function cacheStatements (db: Database.Database, size: number): void {
  const prepare = db.prepare.bind(db) as (sql: string) => Statement
  const cache = new Map<string, Cached>()
  let stamp = 0
  db.prepare = ((sql: string) => {
    let cached = cache.get(sql)
    if (cached === undefined) {
      cached = { statement: prepare(sql), stamp: ++stamp }
      if (cache.size >= size) cache.delete(cache.keys().next().value!)
      cache.set(sql, cached)
    } else if (stamp - cached.stamp >= size / 2) {
      cache.delete(sql)
      cached.stamp = ++stamp
      cache.set(sql, cached)
    }
    return new Reused(cached)
  }) as unknown as Database.Database['prepare']
}

/** Wraps the adapter factory so that every connection it opens caches its statements. */
export function withStatementCache (factory: SqlDriverAdapterFactory, size = 64): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const adapter = await factory.connect()
      const db = (adapter as unknown as { client?: Database.Database }).client
      // A Prisma upgrade that renames the connection must fail loudly, not silently lose the cache.
      if (typeof db?.prepare !== 'function') throw new Error('the SQLite adapter no longer exposes its better-sqlite3 connection as `client`')
      cacheStatements(db, size)
      return adapter
    }
  }
}
