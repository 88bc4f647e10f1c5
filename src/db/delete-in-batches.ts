import { setTimeout as sleep } from 'node:timers/promises'

// Pruning (`npm run prune`) deletes up to millions of rows from a process beside the service, in batches of
// one transaction each, so that no lock is held for long. On SQLite that is not enough: there is one write
// lock, a writer that finds it taken sleeps in SQLite's busy handler (retrying after 1, 2, 5, 10, 15, 20, 25,
// 25, 25, 50, 50 then every 100 ms), and a process that has just committed takes the lock again at once. With
// batches of 1,000 rows back to back (3-100 ms each, less than 1 ms apart), an event of the service waited
// through a dozen of them: 0.44-0.94 s (issue 25, row 16). So a batch is sized by time, not rows (its row
// count follows the previous batch's duration towards BATCH_MS, halved or doubled at most, never below
// MIN_ROWS: a batch's duration includes its own wait for the lock, which says nothing about its size), and
// after each the lock is left free for at least as long as the batch took (PAUSE_MS at the least): a writer
// that began waiting during a batch retries within that pause, whatever its busy handler's step, and takes
// the lock. On PostgreSQL, where deletes and the service's writes lock different rows, the same pacing costs
// only the pauses.

/** Duration a batch aims at (ms): its row count is adjusted towards it. */
export const BATCH_MS = 20
/** Shortest pause after a batch (ms): longer than the busy handler's retry steps while a waiter is young. */
export const PAUSE_MS = 30
/** Most rows per batch, by default (a batch of reconcile_runs took 3-16 ms per 1,000 rows). */
export const MAX_ROWS = 5000
/** Fewest rows per batch (unless maxRows is smaller), and the first batch's (it runs on a cold cache). */
export const MIN_ROWS = 100

export interface DeletePacing {
  /** Most rows per batch. */
  maxRows: number
  /** Duration a batch aims at (ms). */
  batchMs?: number
  /** Shortest pause between batches (ms). */
  pauseMs?: number
  /** Clock and pause, for tests. */
  now?: () => number
  pause?: (ms: number) => Promise<unknown>
}

/**
 * Runs `deleteBatch(rows)` (one statement, one transaction, deleting at most `rows` rows) until a batch deletes
 * fewer than it was asked to, pausing between batches (see above); returns the total deleted.
 */
export async function deleteInBatches (deleteBatch: (rows: number) => Promise<number>, pacing: DeletePacing): Promise<number> {
  const { maxRows, batchMs = BATCH_MS, pauseMs = PAUSE_MS, now = () => performance.now(), pause = sleep } = pacing
  const minRows = Math.min(maxRows, MIN_ROWS)
  let rows = minRows
  let total = 0
  for (;;) {
    const started = now()
    const deleted = await deleteBatch(rows)
    const took = now() - started
    total += deleted
    if (deleted < rows) return total
    await pause(Math.max(pauseMs, took))
    // At most doubled at a time (one fast batch, its rows cached, must not make the next one long), at most
    // halved (one batch that waited long for the lock must not make the prune crawl).
    const towards = Math.round(rows * batchMs / Math.max(took, 1))
    rows = Math.max(minRows, Math.min(maxRows, rows * 2, Math.max(Math.floor(rows / 2), towards)))
  }
}
