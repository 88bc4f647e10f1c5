// A run's lease, kept alive: renewed on a timer every `everyMs` while the run lives, so that a run whose
// process died (SIGKILL, a crash, a lost machine) stops renewing and its lease expires within the lease's
// length; the next run then takes it and marks the dead run abandoned. Renewals skip while the run holds a
// transaction open (`hold`): on SQLite the run's connection is one, and a renewal sent then would become
// part of that transaction (rolled back with a dry run's). A renewal that finds the lease taken marks it
// lost, and the run stops at its next `beat`.

export class LeaseLost extends Error {
  override name = 'LeaseLost'
}

export class Heartbeat {
  readonly #everyMs: number
  readonly #renew: () => Promise<boolean>
  #timer: NodeJS.Timeout | undefined
  #held = 0
  #lost = false
  #renewed = performance.now()
  #inFlight: Promise<void> | undefined

  /** `renew` extends the lease and answers whether it was still held. */
  constructor (everyMs: number, renew: () => Promise<boolean>) {
    this.#everyMs = everyMs
    this.#renew = renew
  }

  start (): void {
    this.#timer = setInterval(() => {
      if (this.#held === 0 && this.#inFlight === undefined) void this.#renewNow().catch(() => {})
    }, this.#everyMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  /** Throws when the lease was lost; renews it first when `always`, or when a renewal is due. */
  async beat (always: boolean): Promise<void> {
    await this.#inFlight
    if (!this.#lost && (always || performance.now() - this.#renewed >= this.#everyMs)) await this.#renewNow()
    if (this.#lost) throw new LeaseLost('lost the reconciliation lease: it expired without renewal and another run took it')
  }

  /** Runs `work` (a transaction) with the timer's renewals held back until it ends. */
  async hold<T> (work: () => Promise<T>): Promise<T> {
    await this.#inFlight
    this.#held++
    try {
      return await work()
    } finally {
      this.#held--
    }
  }

  async #renewNow (): Promise<void> {
    const renewal = (async () => {
      try {
        if (!await this.#renew()) this.#lost = true
        else this.#renewed = performance.now()
      } finally {
        this.#inFlight = undefined
      }
    })()
    this.#inFlight = renewal
    await renewal
  }
}
