// Long loops over request data (parsing a batch's items, checking them) give other requests a turn of
// the event loop every few milliseconds, whatever the shape of the data: /healthz and other senders are
// answered in between.

/** Milliseconds of synchronous work after which a loop yields. */
export const SLICE_MS = 10

/** Resolves in a later turn of the event loop, after pending I/O (other requests) had its turn. */
export const nextTurn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/** Times one slice of work: `turn()` yields once the slice has taken `ms`, and starts the next. */
export class WorkSlice {
  #started = performance.now()

  constructor (readonly ms = SLICE_MS) {}

  /** Yields to the event loop when this slice has taken `ms` or more (then a new slice starts); else nothing. */
  async turn (): Promise<void> {
    if (performance.now() - this.#started < this.ms) return
    await nextTurn()
    this.#started = performance.now()
  }
}
