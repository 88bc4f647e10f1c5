import type { DatabaseClient } from './client.js'
import { asPrismaError, driverAdapterOf } from './driver-adapter.js'

// SQLite copies the WAL back into the database file (a checkpoint) inside the commit that takes the WAL past
// 1000 pages (~4 MB). On a large database that copy writes pages all over the file and syncs it: a 15-20 ms
// stall for whichever requests are waiting, which at a steady 300 requests/s set the p99 latency. Done
// after every few events while the writer has nothing queued, each checkpoint is short (~2 ms) and runs
// after the answers have gone out. Under sustained load the queue is seldom empty and SQLite's own
// checkpoints do most of the work, as before, so throughput pays next to nothing.

export class IdleWalCheckpoint {
  #written = 0

  /** `everyEvents`: checkpoint once this many events were written since the last checkpoint; 0 never. */
  constructor (private readonly prisma: DatabaseClient, private readonly everyEvents: number) {}

  /** Counts events committed. */
  written (events: number): void {
    this.#written += events
  }

  due (): boolean {
    return this.everyEvents > 0 && this.#written >= this.everyEvents
  }

  /**
   * PASSIVE: copies what it can without waiting for readers or blocking anyone. Sent to the driver adapter
   * the client runs on (the writer thread's connection), not through the client: its fixed work per query
   * cost ~150 µs of CPU more per checkpoint, ~10 µs per event at EventBridge's rate.
   */
  async run (): Promise<void> {
    this.#written = 0
    const adapter = await driverAdapterOf(this.prisma)
    try {
      await adapter.queryRaw({ sql: 'PRAGMA wal_checkpoint(PASSIVE)', args: [], argTypes: [] })
    } catch (err) {
      throw asPrismaError(err)
    }
  }
}
