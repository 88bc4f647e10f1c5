import { setTimeout as sleep } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import { raw, sqltag as sql } from '@prisma/client/runtime/client'
import type { Tenant, User } from '../generated/sqlite/client.js'
import type { DatabaseClient } from './engines/client.js'
import type { DecodedEvent } from '../events/decode.js'
import type { Change, Plan } from '../events/changes.js'
import { parseEvent } from '../events/parse.js'
import { ENTITIES } from '../events/entities.js'
import { redactedBeyondSecretFields } from '../events/secret-fields.js'
import type { ColumnType, Dialect } from './engines/dialect.js'
import { applyChanges, FeedWrite, writeBatch, type BatchItem, type Outcome, type Queryable } from './writing/batch-write.js'
import { loadFeedRows, recordFeed } from './feed/feed-store.js'
import { FeedLockConflict, lockWholeFeed } from './feed/feed-locks.js'
import { FEED_KEYS, type FeedEntity } from './feed/feed-views.js'
import { Batcher } from './writing/batcher.js'
import { IdleWalCheckpoint } from './engines/wal-checkpoint.js'
import { deleteInBatches, MAX_ROWS } from './delete-in-batches.js'
import { adapterTransaction, driverAdapterOf } from './engines/driver-adapter.js'
import { SqliteWriterAdapter } from './engines/sqlite-writer.js'
import { isTransientDatabaseError } from './engines/transient.js'
import { tenantView, userView, type TenantView, type UserView } from './views.js'
import { NextFlight } from '../next-flight.js'

export type { Outcome } from './writing/batch-write.js'

/** The client inside an interactive transaction. */
export type Transaction = Parameters<Parameters<DatabaseClient['$transaction']>[0]>[0]

export interface WriteLimits {
  /** How long a request may wait for the database to start its transaction (ms). */
  maxWaitMs: number
  /** How long one transaction may run (ms). */
  timeoutMs: number
  /** Group commit: most events in one transaction, and longest wait for a batch to fill (ms). */
  batchMaxEvents: number
  batchMaxWaitMs: number
  /** Batches written at the same time, each in its own transaction. */
  batchConcurrency: number
  /** How many times a transaction that failed with a transient error is tried again. */
  retries: number
  /** Called before each retry, for the log. */
  onRetry: (err: unknown, retry: number) => void
  /** SQLite: checkpoint the WAL while the writer is idle, after this many events (0: leave it to SQLite). */
  checkpointEvents: number
  /** Called when such a checkpoint fails (SQLite's own checkpoints still run). */
  onCheckpointError?: (err: unknown) => void
  /** Quarantine bounds: new content is not kept once the table holds this many rows or bytes of `raw`. */
  quarantineMaxRows: number
  quarantineMaxBytes: number
  /** false: event batches record no change feed entries. Only to measure the feed's cost (bench/write-path.ts). */
  feed?: boolean
}

/** The migration that came with an inbox keeping everything but SaaSus's secret fields as sent (issue 25). */
export const EXACT_INBOX_MIGRATION = '20261207150000_quarantine_original'

/** The shortest transaction worth starting: Prisma's own lower bound on a transaction's time-out is 100 ms. */
const MIN_ATTEMPT_MS = 100

/** A small, jittered, growing pause before retry `n` (0-based): about 25, 50, 100 ms. */
export const retryPauseMs = (n: number): number => Math.round(25 * 2 ** n * (0.5 + Math.random()))

export interface EventView {
  id: string
  event_type: string
  time: string
  log_id: string | null
  trace_id: string | null
  uri: string | null
  method: string | null
  http_status: number | null
  received_at: string
  outcome: string
  event: unknown
}

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface QuarantineEntry {
  envelopeId: string | null
  field: string
  error: string
  /** The refused item as the console shows it (events/quarantine-copy.ts). */
  raw: unknown
  /** Its JSON text as received, SaaSus's secret fields replaced: what a replay judges. Null: not kept. */
  original?: string | null
  /** Why `original` was not kept (a replay is refused with it). */
  replayRefusal?: string | null
}

/** A quarantined row as read back: the entry, and how many times that content was refused. */
export interface QuarantinedRow extends QuarantineEntry {
  count: number
}

/**
 * What became of a refused item: `kept` as a new row, `repeat` of content already kept (its count and
 * last_seen_at raised), or `not_kept` because the quarantine is at QUARANTINE_MAX_ROWS / _BYTES.
 */
export type QuarantineResult = 'kept' | 'repeat' | 'not_kept'

const QUARANTINE_TYPES: ColumnType[] = ['text', 'timestamp', 'timestamp', 'text', 'text', 'json_text', 'text', 'text', 'text', 'integer', 'integer']

/** The tables holding the projected state: what a rebuild empties and fills again. */
export const PROJECTED_TABLES = [...Object.values(ENTITIES).map(e => e.table), 'attribute_values']

/** Live rows after a cursor (the last id of the previous page), for listing in id order. */
const visibleAfter = (cursor: string | undefined) => ({ live: true, ...(cursor === undefined ? {} : { id: { gt: cursor } }) })

/** Views built per group at first: a group's views are read together, and all of the last may be left out. */
const FIRST_GROUP = 8

/**
 * One page from `limit + 1` rows (the extra row only says that there is a next page), whose views' JSON
 * stays within `maxBytes`, but always with the first: views are built a group at a time, each group as large
 * as the budget left seems to allow by the views so far, and the page stops before the view that would
 * exceed it. The page then ends there, and `next_cursor` resumes after it.
 */
async function page<R extends { id: string }, V extends { id: string }> (rows: R[], limit: number, maxBytes: number, views: (rows: R[]) => Promise<V[]>): Promise<Page<V>> {
  const wanted = rows.slice(0, limit)
  const items: V[] = []
  // What the page holds besides its items: `{"items":[],"next_cursor":"<id>"}`, an id of 256 characters at most.
  let bytes = 64 + 256
  // (A row deleted since `rows` were read has no view: a group may give fewer views than rows.)
  for (let next = 0; next < wanted.length;) {
    const size = Math.max(1, Math.min(items.length === 0 ? FIRST_GROUP : Math.floor((maxBytes - bytes) / (bytes / items.length)), wanted.length - next))
    const group = wanted.slice(next, next += size)
    for (const view of await views(group)) {
      const viewBytes = Buffer.byteLength(JSON.stringify(view)) + 1 // and its comma
      if (items.length > 0 && bytes + viewBytes > maxBytes) return { items, next_cursor: items[items.length - 1].id }
      items.push(view)
      bytes += viewBytes
    }
  }
  return { items, next_cursor: rows.length > limit ? wanted[wanted.length - 1].id : null }
}

/** One change feed entry as the API shows it. */
export interface FeedEntryView {
  cursor: number
  entity: FeedEntity
  key: Record<string, string | number>
  op: 'upsert' | 'delete'
  fields: Record<string, unknown> | null
  cause: { kind: 'event', event_id: string | null, event_type: string | null, time: string | null } | { kind: 'reconcile', run_id: string | null } | { kind: 'rebuild' }
    | { kind: 'scheduled', time: string }
  recorded_at: string
}

/** One change feed entry as the JSON text a page holds (FeedEntryView's), its `fields` as stored. */
export interface FeedEntryText {
  cursor: number
  json: string
}

/** A feed_entries row as feedEntryTexts reads it (raw: column names; `fields` as its stored JSON text). */
interface FeedEntryRow {
  cursor: bigint
  entity: string
  key: Record<string, string | number>
  op: string
  fields: string | null
  cause: string
  event_id: string | null
  event_type: string | null
  event_time: Date | null
  run_id: string | null
  recorded_at: Date
}

/**
 * Bytes an entry takes in a page besides its key and fields, at most: cursor, entity, op, recorded_at and its
 * cause (an envelope id of up to 256 characters, an operation's name, a time).
 */
export const ENTRY_OVERHEAD = 512
/** Bytes of a page besides its entries: `{"entries":[],"next_after":<cursor>}`. */
export const PAGE_OVERHEAD = 64

/** The feed's ends: the newest cursor given out, and the newest pruned (every cursor up to it is gone). */
export interface FeedBounds {
  head: number
  prunedThrough: number
}

/** The database behind the receiver: the event inbox, the quarantine, the projected state and the change feed. */
export class Repository {
  readonly #batcher: Batcher<BatchItem, Outcome>
  readonly #checkpoint: IdleWalCheckpoint | undefined
  readonly #feedListeners: Array<(write: FeedWrite) => void> = []
  readonly #events = { submitted: 0, answered: 0 }

  constructor (
    readonly prisma: DatabaseClient,
    readonly dialect: Dialect,
    readonly limits: WriteLimits
  ) {
    this.#checkpoint = dialect.name === 'sqlite' ? new IdleWalCheckpoint(prisma, limits.checkpointEvents) : undefined
    this.#batcher = new Batcher(async items => await this.writeNow(items), {
      maxItems: limits.batchMaxEvents,
      maxWaitMs: limits.batchMaxWaitMs,
      maxConcurrent: limits.batchConcurrency,
      isTransient: isTransientDatabaseError,
      idle: this.#checkpoint,
      onIdleError: limits.onCheckpointError
    })
  }

  /** Called with the size of every batch written (for metrics). */
  set onBatch (listener: (size: number) => void) {
    this.#batcher.onBatch = listener
  }

  /**
   * Records an event and applies its changes; resolves once they are committed. Events that arrive
   * together share one transaction (group commit). An envelope id or SaaSus log_id already recorded makes
   * the event a duplicate, which writes nothing.
   */
  async record (event: DecodedEvent, plan: Plan): Promise<Outcome> {
    this.#events.submitted++
    try {
      return await this.#batcher.submit({ event, plan })
    } finally {
      this.#events.answered++
    }
  }

  /** Events ever submitted to `record`: with eventsAnswered, reconciliation lets those waiting go first. */
  get eventsSubmitted (): number {
    return this.#events.submitted
  }

  /** Events ever answered by `record` (written, or failed). */
  get eventsAnswered (): number {
    return this.#events.answered
  }

  /**
   * Writes a batch in one transaction now, without waiting for others. A transient failure (lock, deadlock,
   * serialization failure, lost connection, statement time-out) rolls the transaction back; it is tried
   * again up to `limits.retries` times while the `timeoutMs` budget lasts, then thrown. The transaction runs
   * on the driver adapter under the client (engines/driver-adapter.ts: the fixed cost per statement).
   */
  async writeNow (items: BatchItem[], receivedAt: Date = new Date()): Promise<Outcome[]> {
    const feed = new FeedWrite()
    const adapter = await driverAdapterOf(this.prisma)
    const recordFeed = this.limits.feed !== false
    const outcomes = await this.#retried(async timeoutMs => {
      const limits = { maxWaitMs: this.limits.maxWaitMs, timeoutMs }
      if (adapter instanceof SqliteWriterAdapter) {
        // SQLite: the whole transaction in the writer thread, one message each way (engines/sqlite-writer.ts).
        const written = await adapter.writer.writeBatch(items, receivedAt, recordFeed, limits)
        feed.head = written.head
        feed.entries.push(...written.entries)
        feed.planDueAt = written.planDueAt
        return written.outcomes
      }
      return await adapterTransaction(adapter, this.dialect, limits, async db => {
        feed.restart() // a retried transaction records afresh: the inbox rows too, rolled back with the rest
        return await writeBatch(db, this.dialect, items, receivedAt, recordFeed ? feed : null)
      })
    }, this.limits.timeoutMs)
    this.#checkpoint?.written(items.length)
    this.feedCommitted(feed)
    return outcomes
  }

  /** Calls `listener` after every committed transaction that recorded change feed entries. */
  onFeed (listener: (write: FeedWrite) => void): void {
    this.#feedListeners.push(listener)
  }

  /** Tells the feed's listeners about a committed transaction's entries (none: nothing to tell). */
  feedCommitted (write: FeedWrite): void {
    if (write.head === undefined) return
    for (const listener of this.#feedListeners) listener(write)
  }

  /**
   * Runs `work` in one transaction, retried as writeNow retries a batch, all tries within `timeoutMs`.
   * Whatever `work` throws that is not transient rolls back and is thrown at once.
   */
  async transaction<T> (work: (tx: Transaction) => Promise<T>, timeoutMs: number = this.limits.timeoutMs): Promise<T> {
    return await this.#retried(async timeout => await this.prisma.$transaction(work, { maxWait: this.limits.maxWaitMs, timeout }), timeoutMs)
  }

  /**
   * Runs `attempt` with the time left of `timeoutMs` (at least MIN_ATTEMPT_MS), again after a transient
   * failure; and at once, uncounted, after a FeedLockConflict (the write's locks know what to take first
   * then, and take the feed's lock exclusively after a few: feed-locks.ts).
   */
  async #retried<T> (attempt: (timeoutMs: number) => Promise<T>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (let retry = 0; ; retry++) {
      try {
        return await attempt(Math.max(MIN_ATTEMPT_MS, deadline - Date.now()))
      } catch (err) {
        if (err instanceof FeedLockConflict) {
          retry--
          continue
        }
        const pause = retryPauseMs(retry)
        if (retry >= this.limits.retries || !isTransientDatabaseError(err) || Date.now() + pause + MIN_ATTEMPT_MS > deadline) throw err
        this.limits.onRetry(err, retry + 1)
        await sleep(pause)
      }
    }
  }

  /**
   * Keeps requests that passed authentication but not validation, with the reason, all in one transaction.
   * The same content (SHA-256 of the original text, or of `raw` when there is none) is kept once: a repeat
   * raises its count and last_seen_at. New content is kept while the table stays within
   * QUARANTINE_MAX_ROWS and QUARANTINE_MAX_BYTES (bytes of `raw` and `original`), else it is not kept.
   * Results come back in the entries' order.
   */
  async quarantine (entries: QuarantineEntry[], receivedAt: Date = new Date()): Promise<QuarantineResult[]> {
    const prepared = entries.map(entry => {
      const json = JSON.stringify(entry.raw)
      const original = entry.original ?? null
      const hash = createHash('sha256').update(original ?? json).digest('hex')
      return { entry, json, original, hash, size: Buffer.byteLength(json) + (original === null ? 0 : Buffer.byteLength(original)) }
    })
    // One row per distinct content: PostgreSQL refuses to upsert one row twice in a statement.
    const distinct = new Map<string, { first: typeof prepared[number], count: number }>()
    for (const p of prepared) {
      const seen = distinct.get(p.hash)
      if (seen === undefined) distinct.set(p.hash, { first: p, count: 1 })
      else seen.count++
    }
    // Serialising and hashing a large refused body is a long step: others get a turn before the transaction.
    await new Promise(resolve => setImmediate(resolve))
    const fate = await this.transaction(async tx => {
      const fate = new Map<string, QuarantineResult>()
      const hashes = [...distinct.keys()].map(hash => [hash])
      const existing = await tx.$queryRaw<Array<{ hash: string }>>(sql`SELECT "hash" FROM "quarantine"
        WHERE "hash" IN (${this.dialect.rows(['text'], hashes)})`)
      for (const { hash } of existing) {
        await tx.$executeRaw(sql`UPDATE "quarantine" SET "count" = "count" + ${distinct.get(hash)!.count},
          "last_seen_at" = ${receivedAt} WHERE "hash" = ${hash}`)
        fate.set(hash, 'repeat')
      }
      const [total] = await tx.$queryRaw<Array<{ rows: unknown, bytes: unknown }>>(sql`SELECT COUNT(*) AS "rows",
        COALESCE(SUM("size"), 0) AS "bytes" FROM "quarantine"`)
      let rows = Number(total.rows)
      let bytes = Number(total.bytes)
      const kept: unknown[][] = []
      for (const [hash, { first, count }] of distinct) {
        if (fate.has(hash)) continue
        if (rows + 1 > this.limits.quarantineMaxRows || bytes + first.size > this.limits.quarantineMaxBytes) {
          fate.set(hash, 'not_kept')
          continue
        }
        rows++
        bytes += first.size
        fate.set(hash, 'kept')
        const { envelopeId, field, error, replayRefusal } = first.entry
        const refusal = first.original === null ? replayRefusal ?? 'the item as received was not kept' : null
        kept.push([envelopeId, receivedAt, receivedAt, field, error, first.json, first.original, refusal, hash, count, first.size])
      }
      if (kept.length > 0) {
        // A concurrent transaction (PostgreSQL) may have kept the same content meanwhile: count it there.
        await tx.$executeRaw(sql`INSERT INTO "quarantine"
          ("envelope_id", "received_at", "last_seen_at", "field", "error", "raw", "original", "replay_refusal", "hash", "count", "size")
          ${this.dialect.rows(QUARANTINE_TYPES, kept)}
          ON CONFLICT ("hash") DO UPDATE SET "count" = "quarantine"."count" + excluded."count", "last_seen_at" = excluded."last_seen_at"`)
      }
      return fate
    })
    // Within one call, the second and later items of the same content are repeats of the first.
    const first = new Set<string>()
    return prepared.map(({ hash }) => {
      const result = fate.get(hash)!
      if (first.has(hash)) return result === 'not_kept' ? 'not_kept' : 'repeat'
      first.add(hash)
      return result
    })
  }

  /** Rows in the quarantine and the bytes of their `raw`, for the metrics gauges. */
  async quarantineSize (): Promise<{ rows: number, bytes: number }> {
    const [total] = await this.prisma.$queryRaw<Array<{ rows: unknown, bytes: unknown }>>(sql`SELECT COUNT(*) AS "rows",
      COALESCE(SUM("size"), 0) AS "bytes" FROM "quarantine"`)
    return { rows: Number(total.rows), bytes: Number(total.bytes) }
  }

  async quarantined (): Promise<QuarantinedRow[]> {
    const rows = await this.prisma.quarantinedEvent.findMany({ orderBy: { id: 'asc' } })
    return rows.map(r => ({ envelopeId: r.envelopeId, field: r.field, error: r.error, raw: r.raw, original: r.original, replayRefusal: r.replayRefusal, count: r.count }))
  }

  /** Deletes quarantine rows last seen before `cutoff`, at most `maxRows` per transaction, paced (delete-in-batches.ts). Returns the count. */
  async pruneQuarantine (cutoff: Date, maxRows = MAX_ROWS): Promise<number> {
    return await deleteInBatches(async rows => await this.prisma.$executeRaw(sql`DELETE FROM "quarantine" WHERE "id" IN
        (SELECT "id" FROM "quarantine" WHERE "last_seen_at" < ${cutoff} LIMIT ${rows})`), { maxRows })
  }

  /**
   * Drops the projected state and applies every recorded event again, in storage order, with the current
   * code: how a new projection is back-filled. One transaction, so readers see the old state until it ends.
   */
  async rebuild (timeoutMs = 10 * 60_000): Promise<{ events: number, unreadable: number, inexact: number }> {
    // Events stored before this version's inbox kept data as sent (names that looked like secrets were
    // redacted then): those holding such a redaction are not applied, rather than applied rewritten.
    const [marker] = await this.prisma.$queryRaw<Array<{ finished_at: unknown }>>(sql`SELECT "finished_at" FROM "_prisma_migrations"
      WHERE "migration_name" = ${EXACT_INBOX_MIGRATION} AND "finished_at" IS NOT NULL`)
    /* c8 ignore next -- the migration is applied before the repository opens */
    const exactSince = marker === undefined ? Infinity : new Date(marker.finished_at as string | Date).getTime()
    const feed = new FeedWrite()
    const result = await this.prisma.$transaction(async tx => {
      // The feed records the difference between the visible state before and after the whole rebuild, which
      // holds the feed's lock exclusively: every row is its own.
      await lockWholeFeed(tx, this.dialect)
      const before = await loadFeedRows(tx, this.dialect, 'all')
      for (const table of PROJECTED_TABLES) {
        await tx.$executeRawUnsafe(`DELETE FROM "${table}"`)
      }
      // The plan changes events made go with them; the instants the activator saw pass stay (plan-state.ts).
      await tx.$executeRawUnsafe('DELETE FROM "tenant_plan_changes" WHERE "change" ->> \'kind\' <> \'activate\'')
      // What reconciliation wrote is gone with the rest: so is the floor it set.
      await tx.$executeRawUnsafe('UPDATE "version_floor" SET "version" = \'\', "pending_version" = \'\'')
      await tx.$executeRawUnsafe('DELETE FROM "reconcile_journal"')
      let events = 0
      let unreadable = 0
      let inexact = 0
      let cursor: { receivedAt: Date, id: string } | undefined
      for (;;) {
        const page = await tx.event.findMany({
          where: cursor === undefined
            ? {}
            : { OR: [{ receivedAt: { gt: cursor.receivedAt } }, { receivedAt: cursor.receivedAt, id: { gt: cursor.id } }] },
          orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
          take: 500
        })
        if (page.length === 0) break
        const changes: Change[][] = []
        for (const row of page) {
          events++
          const parsed = parseEvent(row.raw)
          if (!parsed.ok) unreadable++
          else if (row.receivedAt.getTime() < exactSince && redactedBeyondSecretFields(row.raw)) inexact++
          else if (parsed.plan.kind === 'changes') changes.push(parsed.plan.changes)
        }
        await applyChanges(tx, this.dialect, changes, { kind: 'rebuild' }, null)
        const end = page[page.length - 1]
        cursor = { receivedAt: end.receivedAt, id: end.id }
      }
      await recordFeed(tx, this.dialect, before, await loadFeedRows(tx, this.dialect, 'all'), () => ({ cause: 'rebuild' }), feed)
      return { events, unreadable, inexact }
    }, { maxWait: this.limits.maxWaitMs, timeout: timeoutMs })
    this.feedCommitted(feed)
    return result
  }

  /**
   * Up to `limit` feed entries after cursor `after`, in cursor order, and no more than fit in `maxBytes`
   * (their recorded sizes plus ENTRY_OVERHEAD each), but always the first: a page stops before the budget,
   * never empty while an entry follows. Where it stops is decided from the (cursor, size) index alone, so
   * that the entries it leaves out are never read. Each entry comes as its JSON text (a FeedEntryView), for
   * pages: its `fields` (up to megabytes of attributes) as the database stores them, neither parsed into
   * objects nor serialised again, so that a read costs the event loop little more than the bytes (on
   * PostgreSQL, jsonb's own text: the same JSON values).
   */
  async feedEntryTexts (after: number, limit: number, maxBytes: number = Number.MAX_SAFE_INTEGER): Promise<FeedEntryText[]> {
    // One statement: the page's last cursor (by rows, then by the bytes of the `size` index), and the entries
    // up to it with `fields` as stored text.
    const rows = await this.prisma.$queryRaw<FeedEntryRow[]>(sql`SELECT "cursor", "entity", "key", "op",
        ${this.dialect.jsonText(raw('"fields"'))} AS "fields", "cause", "event_id", "event_type", "event_time", "run_id", "recorded_at"
      FROM "feed_entries" WHERE "cursor" > ${BigInt(after)} AND "cursor" <= (SELECT MAX("cursor") FROM (
        SELECT "cursor", SUM("size" + ${ENTRY_OVERHEAD}) OVER (ORDER BY "cursor") AS "total", ROW_NUMBER() OVER (ORDER BY "cursor") AS "n"
        FROM (SELECT "cursor", "size" FROM "feed_entries" WHERE "cursor" > ${BigInt(after)} ORDER BY "cursor" LIMIT ${limit}) AS "p"
      ) AS "w" WHERE "n" = 1 OR "total" <= ${maxBytes - PAGE_OVERHEAD})
      ORDER BY "cursor"`)
    return rows.map(r => {
      const cursor = Number(r.cursor)
      const entity = r.entity as FeedEntity
      // In the entity's key order (PostgreSQL's jsonb keeps its own).
      const key = Object.fromEntries(FEED_KEYS[entity].map(k => [k, r.key[k]]))
      const cause: FeedEntryView['cause'] = r.cause === 'event'
        /* c8 ignore next -- an event's entry always has its event's time */
        ? { kind: 'event', event_id: r.event_id, event_type: r.event_type, time: r.event_time?.toISOString() ?? null }
        : r.cause === 'reconcile'
          ? { kind: 'reconcile', run_id: r.run_id }
          // A scheduled entry always has the instant its plan took effect at.
          : r.cause === 'scheduled' ? { kind: 'scheduled', time: r.event_time!.toISOString() } : { kind: 'rebuild' }
      // FeedEntryView's key order: cursor, entity, key, op, fields, cause, recorded_at.
      const before = JSON.stringify({ cursor, entity, key, op: r.op })
      const after = JSON.stringify({ cause, recorded_at: r.recorded_at.toISOString() })
      return { cursor, json: `${before.slice(0, -1)},"fields":${r.fields ?? 'null'},${after.slice(1)}` }
    })
  }

  /** The feed's ends, read after the call (requests arriving together share one read: next-flight.ts). */
  async feedBounds (): Promise<FeedBounds> {
    return await this.#feedBounds.get()
  }

  readonly #feedBounds = new NextFlight(async (): Promise<FeedBounds> => {
    const row = await this.prisma.feedHead.findUniqueOrThrow({ where: { id: 1 } })
    return { head: Number(row.cursor), prunedThrough: Number(row.prunedThrough) }
  })

  /**
   * Deletes the feed entries recorded before `cutoff`: every entry up to the newest such cursor, so that
   * what is kept always follows on from `prunedThrough`, which is raised first (a reader asking for
   * older cursors is told they are gone). At most `maxRows` per transaction, paced (delete-in-batches.ts). Returns the count.
   */
  async pruneFeed (cutoff: Date, maxRows = MAX_ROWS): Promise<number> {
    const [{ through }] = await this.prisma.$queryRaw<Array<{ through: bigint | number | null }>>(sql`SELECT MAX("cursor") AS "through"
      FROM "feed_entries" WHERE "recorded_at" < ${cutoff}`)
    if (through === null) return 0
    await this.prisma.$executeRaw(sql`UPDATE "feed_head" SET "pruned_through" = ${BigInt(through)} WHERE "id" = 1 AND "pruned_through" < ${BigInt(through)}`)
    return await deleteInBatches(async rows => await this.prisma.$executeRaw(sql`DELETE FROM "feed_entries" WHERE "cursor" IN
        (SELECT "cursor" FROM "feed_entries" WHERE "cursor" <= ${BigInt(through)} ORDER BY "cursor" LIMIT ${rows})`), { maxRows })
  }

  /** A live tenant as of `nowMs` (its plan: a reservation whose instant has passed shows as taken effect). */
  async tenant (id: string, nowMs: number = Date.now()): Promise<TenantView | undefined> {
    const row = await this.prisma.tenant.findFirst({ where: { id, live: true } })
    return row === null ? undefined : (await this.tenantViews([row], nowMs))[0]
  }

  /** Live tenants after `cursor`, by id: at most `limit`, and within `maxBytes` of JSON but for the first. */
  async tenants (cursor: string | undefined, limit: number, maxBytes: number = Number.MAX_SAFE_INTEGER, nowMs: number = Date.now()): Promise<Page<TenantView>> {
    const ids = await this.prisma.tenant.findMany({ where: visibleAfter(cursor), orderBy: { id: 'asc' }, take: limit + 1, select: { id: true } })
    return await page(ids, limit, maxBytes, async group => {
      const rows = await this.prisma.tenant.findMany({ where: { id: { in: group.map(r => r.id) }, live: true }, orderBy: { id: 'asc' } })
      return await this.tenantViews(rows, nowMs)
    })
  }

  private async tenantViews (rows: Tenant[], nowMs: number): Promise<TenantView[]> {
    const ids = rows.map(r => r.id)
    const [attributes, memberships] = await Promise.all([
      this.prisma.attributeValue.findMany({ where: { scope: 'tenant', tenantId: { in: ids } } }),
      this.prisma.tenantUser.findMany({ where: { tenantId: { in: ids }, live: true } })
    ])
    const users = await this.prisma.user.findMany({ where: { id: { in: [...new Set(memberships.map(m => m.userId))] }, live: true } })
    const userById = new Map(users.map(u => [u.id, u]))
    return rows.map(t => tenantView(
      t, attributes.filter(a => a.tenantId === t.id), memberships.filter(m => m.tenantId === t.id), userById, nowMs))
  }

  async user (id: string): Promise<UserView | undefined> {
    const row = await this.prisma.user.findFirst({ where: { id, live: true } })
    return row === null ? undefined : (await this.userViews([row]))[0]
  }

  /** Live users after `cursor`, by id: at most `limit`, and within `maxBytes` of JSON but for the first. */
  async users (cursor: string | undefined, limit: number, maxBytes: number = Number.MAX_SAFE_INTEGER): Promise<Page<UserView>> {
    const ids = await this.prisma.user.findMany({ where: visibleAfter(cursor), orderBy: { id: 'asc' }, take: limit + 1, select: { id: true } })
    return await page(ids, limit, maxBytes, async group => {
      const rows = await this.prisma.user.findMany({ where: { id: { in: group.map(r => r.id) }, live: true }, orderBy: { id: 'asc' } })
      return await this.userViews(rows)
    })
  }

  private async userViews (rows: User[]): Promise<UserView[]> {
    const ids = rows.map(r => r.id)
    const [attributes, memberships, roles, listings] = await Promise.all([
      this.prisma.attributeValue.findMany({ where: { scope: { in: ['user', 'tenant_user'] }, userId: { in: ids } } }),
      this.prisma.tenantUser.findMany({ where: { userId: { in: ids }, live: true } }),
      this.prisma.tenantUserRole.findMany({ where: { userId: { in: ids }, live: true } }),
      this.prisma.tenantUserEnv.findMany({ where: { userId: { in: ids }, live: true } })
    ])
    const tenants = await this.prisma.tenant.findMany({ where: { id: { in: [...new Set(memberships.map(m => m.tenantId))] }, live: true } })
    const tenantById = new Map(tenants.map(t => [t.id, t]))
    return rows.map(u => userView(
      u,
      attributes.filter(a => a.userId === u.id),
      memberships.filter(m => m.userId === u.id),
      tenantById,
      roles.filter(r => r.userId === u.id),
      listings.filter(l => l.userId === u.id)))
  }

  async event (id: string): Promise<EventView | undefined> {
    const row = await this.prisma.event.findUnique({ where: { id } })
    if (row === null) return undefined
    return {
      id: row.id,
      event_type: row.eventType,
      time: row.time.toISOString(),
      log_id: row.logId,
      trace_id: row.traceId,
      uri: row.uri,
      method: row.method,
      http_status: row.httpStatus,
      received_at: row.receivedAt.toISOString(),
      outcome: row.outcome,
      event: row.raw
    }
  }

  /**
   * Deletes inbox rows received before `cutoff`, in short transactions of at most `maxRows` with pauses between
   * them, so that the service's writes keep getting the write lock (delete-in-batches.ts). Tenants and users
   * are not touched. Returns the count.
   */
  async pruneEvents (cutoff: Date, maxRows = MAX_ROWS): Promise<number> {
    return await deleteInBatches(async rows => await this.prisma.$executeRaw(sql`DELETE FROM "events" WHERE "id" IN
        (SELECT "id" FROM "events" WHERE "received_at" < ${cutoff} LIMIT ${rows})`), { maxRows })
  }

  /**
   * Deletes reconciliation runs started before `cutoff`, in batches like pruneEvents. Kept whatever their
   * age: a run still `running` (its process finishes the row), and the newest successful run that wrote
   * (the service decides from it whether the database was ever reconciled, and /metrics reports its end).
   */
  async pruneReconcileRuns (cutoff: Date, maxRows = MAX_ROWS): Promise<number> {
    const [newest] = await this.prisma.$queryRaw<Array<{ id: string }>>(sql`SELECT "id" FROM "reconcile_runs"
      WHERE "outcome" = ${'succeeded'} AND "dry_run" = ${false} ORDER BY "ended_at" DESC LIMIT 1`)
    const keep = newest?.id ?? ''
    return await deleteInBatches(async rows => await this.prisma.$executeRaw(sql`DELETE FROM "reconcile_runs" WHERE "id" IN
        (SELECT "id" FROM "reconcile_runs" WHERE "started_at" < ${cutoff} AND "outcome" <> ${'running'} AND "id" <> ${keep} LIMIT ${rows})`), { maxRows })
  }

  /** Names of the migrations recorded as finished, for readiness checks. */
  async appliedMigrations (): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<Array<{ migration_name: string }>>(sql`SELECT "migration_name" FROM "_prisma_migrations"
      WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`)
    return rows.map(r => r.migration_name)
  }

  /** A round trip to the database, for readiness checks. */
  async ping (): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`
  }

  async close (): Promise<void> {
    await this.prisma.$disconnect()
  }
}
