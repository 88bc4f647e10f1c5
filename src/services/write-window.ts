import type { Plan } from '../events/changes.js'
import { MAX_ATTRIBUTES } from '../schemas/entries.js'

/**
 * The rows one request may have in the write path at once: one event at MAX_ATTRIBUTES (1002 rows) at a
 * time, or hundreds of light ones (a few rows each), which are not held back.
 */
export const WRITE_WINDOW_ROWS = 2 * MAX_ATTRIBUTES

/** About the rows an event's plan writes: one per change, and one per attribute. */
export function writeWeight (plan: Plan): number {
  if (plan.kind === 'ignored') return 1
  let rows = 0
  for (const change of plan.changes) rows += change.kind === 'attributes' ? 1 + Object.keys(change.values).length : 1
  return Math.max(1, rows)
}

/**
 * The events of one request that are in the write path (submitted to group commit, not yet committed or
 * failed), bounded by their weight (rows): a batch of heavy events never puts more than `max` rows into
 * the transactions being written at once, so that each transaction stays short whatever one request
 * sends. One event always fits when nothing else is in flight.
 */
export class WriteWindow {
  #rows = 0
  readonly #pending = new Set<Promise<void>>()

  constructor (readonly max: number) {}

  /**
   * Resolves true once an event of weight `rows` fits, waiting for earlier writes to settle; false when
   * `remainingMs()` runs out first.
   */
  async room (rows: number, remainingMs: () => number): Promise<boolean> {
    while (this.#rows > 0 && this.#rows + rows > this.max) {
      if (!await settlesWithin(Promise.race(this.#pending), remainingMs())) return false
    }
    return true
  }

  /** Counts `rows` in flight until `write` (which must not reject) settles. */
  add (rows: number, write: Promise<void>): void {
    this.#rows += rows
    const tracked: Promise<void> = write.then(() => {
      this.#rows -= rows
      this.#pending.delete(tracked)
    })
    this.#pending.add(tracked)
  }
}

/** Resolves true once `work` settles, or false when `ms` pass first. */
export async function settlesWithin (work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), Math.max(0, ms)) })
  try {
    return await Promise.race([work.then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}
