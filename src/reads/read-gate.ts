// How many heavy reads (pages of the feed, the state, the console) run at once, so that a flood of them
// leaves the event loop, the database and memory to intake and probes (issue 25). A read takes a slot, or
// waits in a bounded queue for one; a read that finds the queue full, or waits longer than `maxWaitMs`, is
// refused (the route answers 503 with Retry-After). A slot is held until the answer is sent or abandoned.

interface Queued {
  resolve: (release: (() => void) | undefined) => void
  timer: NodeJS.Timeout
}

export class ReadGate {
  #running = 0
  readonly #queue: Queued[] = []
  /** Reads refused since the start (for metrics). */
  refused = 0

  constructor (readonly concurrency: number, readonly queueMax: number, readonly maxWaitMs: number) {}

  /** Reads running, and waiting. */
  get running (): number { return this.#running }
  get queued (): number { return this.#queue.length }

  /** A slot's release (call it once the answer is done; more calls do nothing), or undefined: refused. */
  async acquire (): Promise<(() => void) | undefined> {
    if (this.#running < this.concurrency) return this.#slot()
    if (this.#queue.length >= this.queueMax) return this.#refuse()
    return await new Promise(resolve => {
      const queued: Queued = {
        resolve,
        timer: setTimeout(() => {
          this.#queue.splice(this.#queue.indexOf(queued), 1)
          resolve(this.#refuse())
        }, this.maxWaitMs)
      }
      this.#queue.push(queued)
    })
  }

  #refuse (): undefined {
    this.refused++
    return undefined
  }

  #slot (): () => void {
    this.#running++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#running--
      const next = this.#queue.shift()
      if (next === undefined) return
      clearTimeout(next.timer)
      next.resolve(this.#slot())
    }
  }
}
