// Group commit: requests that arrive together share one database transaction. Items queue while a batch
// is being written; the next batch closes when it holds `maxItems` or `maxWaitMs` after its first item,
// and each caller is answered only after its batch commits. At most `maxConcurrent` batches are written at
// a time (1 on SQLite, which has one writer anyway), so under load batches grow by themselves. If a batch
// fails for a reason that is not transient, its items are written again one by one, so that one bad event
// fails alone. Work the writer can do at any time (SQLite's WAL checkpoints) waits until nothing is queued.

export interface BatcherOptions {
  maxItems: number
  maxWaitMs: number
  /** Batches written at the same time (each in its own transaction). */
  maxConcurrent: number
  /** Whether a failure is worth retrying later (then the whole batch fails with it). */
  isTransient: (err: unknown) => boolean
  /**
   * Work for an idle writer: `run` is called when `due()` says so, after a batch has been answered, when
   * nothing is queued and no other batch is being written. It holds the writer's turn (items that arrive
   * meanwhile wait for it), so it should be short.
   */
  idle?: { due: () => boolean, run: () => Promise<void> }
  /** Called with whatever `idle.run` throws; the batcher carries on. */
  onIdleError?: (err: unknown) => void
}

interface Pending<I, R> {
  item: I
  resolve: (result: R) => void
  reject: (err: unknown) => void
}

export class Batcher<I, R> {
  readonly #write: (items: I[]) => Promise<R[]>
  readonly #options: BatcherOptions
  #queue: Array<Pending<I, R>> = []
  /** Cancels the scheduled flush, if one is scheduled. */
  #cancel: (() => void) | undefined
  #inFlight = 0
  /** Sizes of the batches written, for metrics. */
  onBatch: (size: number) => void = () => {}

  constructor (write: (items: I[]) => Promise<R[]>, options: BatcherOptions) {
    this.#write = write
    this.#options = options
  }

  async submit (item: I): Promise<R> {
    return await new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      this.#schedule()
    })
  }

  #schedule (): void {
    if (this.#inFlight >= this.#options.maxConcurrent) return // a running batch starts the next one when it ends
    if (this.#queue.length >= this.#options.maxItems) this.#flushSoon(0)
    else if (this.#cancel === undefined) this.#flushSoon(this.#options.maxWaitMs)
  }

  #flushSoon (delayMs: number): void {
    this.#cancel?.()
    const flush = (): void => {
      this.#cancel = undefined
      const batch = this.#queue.splice(0, this.#options.maxItems)
      this.#inFlight++
      void this.#run(batch).then(async () => await this.#idle()).finally(() => {
        this.#inFlight--
        // What queued during the write has waited already: write it at once.
        if (this.#queue.length > 0) this.#flushSoon(0)
      })
      if (this.#queue.length > 0) this.#schedule()
    }
    // No wait still gathers what arrived in the same turn of the event loop (setImmediate runs after I/O).
    if (delayMs === 0) {
      const immediate = setImmediate(flush)
      this.#cancel = () => clearImmediate(immediate)
    } else {
      const timer = setTimeout(flush, delayMs)
      this.#cancel = () => clearTimeout(timer)
    }
  }

  async #idle (): Promise<void> {
    const idle = this.#options.idle
    const isIdle = () => this.#queue.length === 0 && this.#inFlight === 1
    if (idle === undefined || !isIdle() || !idle.due()) return
    // After the answers: their replies are written in this turn, before the idle work starts.
    await new Promise(resolve => setImmediate(resolve))
    if (!isIdle()) return
    try {
      await idle.run()
    } catch (err) {
      this.#options.onIdleError?.(err)
    }
  }

  async #run (batch: Array<Pending<I, R>>): Promise<void> {
    this.onBatch(batch.length)
    try {
      const results = await this.#write(batch.map(p => p.item))
      batch.forEach((p, i) => p.resolve(results[i]))
    } catch (err) {
      if (batch.length === 1 || this.#options.isTransient(err)) {
        for (const p of batch) p.reject(err)
        return
      }
      for (const p of batch) {
        try {
          p.resolve((await this.#write([p.item]))[0])
        } catch (single) {
          p.reject(single)
        }
      }
    }
  }
}
