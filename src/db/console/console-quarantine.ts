import { empty, sqltag as sql } from '@prisma/client/runtime/client'
import type { Repository } from '../repository.js'
import { cutColumn, cutText } from './list-text.js'

// The quarantine as the operator console and `npm run replay-quarantine` see it: paged, one item at a
// time, and the two outcomes of a replay (the item passes and is removed, or it stays with the new reason).

export interface QuarantineListItem {
  id: number
  envelope_id: string | null
  field: string
  error: string
  count: number
  size: number
  received_at: Date
  last_seen_at: Date
}

export interface QuarantineItem extends QuarantineListItem {
  /** The refused item as the console shows it. */
  raw: unknown
  /** Its JSON text as received, SaaSus's secret fields replaced: what a replay judges. Null: not kept. */
  original: string | null
  /** Why the original was not kept (items of older versions, descriptions of what was too large to parse). */
  replay_refusal: string | null
}

type ListRow = { id: number, envelopeId: string | null, field: string, error: string, count: number, size: number, receivedAt: Date, lastSeenAt: Date }

const listItem = (r: ListRow): QuarantineListItem => ({
  id: r.id, envelope_id: r.envelopeId, field: r.field, error: r.error, count: r.count, size: r.size, received_at: r.receivedAt, last_seen_at: r.lastSeenAt
})

export class ConsoleQuarantine {
  constructor (readonly repository: Repository) {}

  get #prisma () { return this.repository.prisma }

  /**
   * Newest first (by id), `limit` at most, ids below `before`; `next` is where the following page starts. The
   * texts a refused item brought (its envelope id, the field naming one of its keys) and the reason are cut
   * for the list (list-text.ts); the item's page shows them whole.
   */
  async list (limit: number, before?: number): Promise<{ items: QuarantineListItem[], next: number | null }> {
    const rows = await this.#prisma.$queryRaw<Array<{ id: number | bigint, envelope_id: string | null, field: string, error: string, count: number | bigint, size: number | bigint, received_at: Date | string, last_seen_at: Date | string }>>(sql`SELECT
      "id", ${cutColumn('envelope_id', 'envelope_id')}, ${cutColumn('field', 'field')}, ${cutColumn('error', 'error')}, "count", "size", "received_at", "last_seen_at"
      FROM "quarantine" ${before === undefined ? empty : sql`WHERE "id" < ${before}`} ORDER BY "id" DESC LIMIT ${limit + 1}`)
    const items = rows.slice(0, limit).map(r => ({
      id: Number(r.id),
      envelope_id: cutText(r.envelope_id),
      field: cutText(r.field),
      error: cutText(r.error),
      count: Number(r.count),
      size: Number(r.size),
      received_at: new Date(r.received_at),
      last_seen_at: new Date(r.last_seen_at)
    }))
    return { items, next: rows.length > limit ? items[items.length - 1].id : null }
  }

  /** Ids of every item, oldest first, `limit` at most after `after` (for replaying all, a page at a time). */
  async ids (limit: number, after = 0): Promise<number[]> {
    const rows = await this.#prisma.quarantinedEvent.findMany({ where: { id: { gt: after } }, orderBy: { id: 'asc' }, take: limit, select: { id: true } })
    return rows.map(r => r.id)
  }

  async item (id: number): Promise<QuarantineItem | undefined> {
    const row = await this.#prisma.quarantinedEvent.findUnique({ where: { id } })
    return row === null ? undefined : { ...listItem(row), raw: row.raw, original: row.original, replay_refusal: row.replayRefusal }
  }

  /** Removes an item that passed validation and was recorded. */
  async remove (id: number): Promise<void> {
    await this.#prisma.quarantinedEvent.deleteMany({ where: { id } })
  }

  /** Keeps an item that is still refused, with today's field and reason. */
  async refusedAgain (id: number, field: string, error: string): Promise<void> {
    await this.#prisma.quarantinedEvent.updateMany({ where: { id }, data: { field, error } })
  }
}
