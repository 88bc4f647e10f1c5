import { setTimeout as sleep } from 'node:timers/promises'

// Reconciliation shares the event loop and the database with event intake, and must never hold either
// longer than an ordinary write batch. Long computations give the event loop turns with work-slice.ts, as
// intake does; two more tools here: a sizer that keeps each chunk's transaction near a time budget whatever
// a row costs on this engine and machine, and a wait that lets queued event batches go first.

/**
 * Rows in a chunk: follows the measured time per row towards `targetMs`, within `min`..`max`. The floor
 * matters where a transaction has a large fixed cost (PostgreSQL's round trips): following the time alone
 * would shrink chunks towards one row, each paying that cost.
 */
export class ChunkSizer {
  #size: number
  readonly #min: number
  constructor (readonly targetMs: number, readonly max: number, min = 64) {
    this.#min = Math.max(1, Math.min(max, min))
    this.#size = this.#min
  }

  get size (): number { return this.#size }

  /** After a chunk of `rows` rows took `ms`: the next size, at most doubling or halving at once. */
  took (rows: number, ms: number): void {
    const fit = rows * this.targetMs / Math.max(ms, 0.1)
    const next = Math.max(Math.floor(rows / 2), Math.min(rows * 2, Math.floor(fit)))
    this.#size = Math.max(this.#min, Math.min(this.max, next))
  }
}

/**
 * Waits while `busy()` says event intake has work waiting (queued or running event batches), polling every
 * `pollMs`, for at most `maxMs`: the reconciliation yields, but is never starved for good. The time waited.
 */
export async function giveWay (busy: () => boolean, pollMs: number, maxMs: number): Promise<number> {
  const started = performance.now()
  while (busy() && performance.now() - started < maxMs) await sleep(pollMs)
  return performance.now() - started
}

/**
 * When a run refreshes the planner's statistics: as soon as the rows written in the current phase (one
 * kind of row, filling its own tables) have doubled since its last refresh, from `minRows` on, and besides
 * every `everyMs` while rows are written. Tables filled from empty otherwise run for seconds on the plans of
 * an empty table (PostgreSQL: feed reads of 20-30 ms instead of 5 to 10), and chunks shrink to their floor.
 */
export class AnalyzeSchedule {
  #last: number
  #written = 0
  #atLast = 0
  #pending = 0

  constructor (readonly everyMs: number, readonly minRows = 1000, now = performance.now()) {
    this.#last = now
  }

  /** A new phase: the tables it fills grow from what they hold now, counted afresh. */
  phase (): void {
    this.#written = 0
    this.#atLast = 0
  }

  wrote (rows: number): void {
    this.#written += rows
    this.#pending += rows
  }

  /** Rows written (in any phase) since the last refresh. */
  get pending (): number {
    return this.#pending
  }

  /** Whether to refresh now: rows were written since the last refresh, and enough of them or long enough ago. */
  due (now = performance.now()): boolean {
    if (this.#pending === 0) return false
    return this.#written >= Math.max(this.minRows, 2 * this.#atLast) || now - this.#last > this.everyMs
  }

  analyzed (now = performance.now()): void {
    this.#last = now
    this.#atLast = this.#written
    this.#pending = 0
  }
}
