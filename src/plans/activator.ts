import type { PlanActivations } from '../db/plan-activations.js'

// Reserved plans take effect at their instant (using_next_plan_from) without an event: SaaSus switches the
// plan itself and sends none. The read API already shows the plan of the instant it is read at; this records
// it in the database and the change feed (cause `scheduled`), at the soonest due instant and at least every
// POLL_MS (reservations written by other replicas), and at start (reservations that fell due while the
// service was down). Any number of replicas may run it: each activation is written once (plan-activations.ts).

export interface ActivatorLog {
  info: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

export interface ActivatorOptions {
  now: () => number
  /** Longest pause between two looks at the due reservations (ms). */
  pollMs: number
  log: ActivatorLog
  /** Due tenants read at a time (default 100). */
  pageSize?: number
}

/** The shortest pause between two looks that follow each other. */
const MIN_DELAY_MS = 1000

export class PlanActivator {
  #timer: NodeJS.Timeout | undefined
  /** When the timer fires (the clock's ms). */
  #timerAt = Infinity
  #running: Promise<void> | undefined
  #busy = false
  #stopped = false

  constructor (readonly activations: PlanActivations, readonly options: ActivatorOptions) {}

  /** Activates what is due now, then keeps watching. */
  start (): void {
    this.#running = this.#tick()
  }

  /** Stops watching and waits for an activation in progress to end. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }

  /**
   * Records every reservation due now as taken effect; returns how many this process recorded. A tenant that
   * fails is logged and left for the next look (it stays due), after the others.
   */
  async runDue (): Promise<number> {
    let activated = 0
    const page = this.options.pageSize ?? 100
    const failed = new Set<string>()
    for (;;) {
      const now = this.options.now()
      const due = (await this.activations.due(now, page + failed.size)).filter(id => !failed.has(id))
      for (const id of due) {
        if (this.#stopped) return activated
        try {
          if (await this.activations.activate(id, now) === 'activated') activated++
        } catch (err) {
          failed.add(id)
          this.options.log.warn({ err, tenantId: id }, 'a reserved plan could not be recorded as taken effect; trying again later')
        }
      }
      if (due.length < page) return activated
    }
  }

  /**
   * A reservation written here takes effect at `dueAtMs`: look then, if that is sooner than the next look
   * (a look in progress reads the soonest instant itself when it ends).
   */
  wake (dueAtMs: number): void {
    if (this.#stopped || this.#busy || dueAtMs >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#arm(Math.max(0, dueAtMs - this.options.now()))
  }

  async #tick (): Promise<void> {
    this.#busy = true
    try {
      const activated = await this.runDue()
      if (activated > 0) this.options.log.info({ activated }, 'reserved plans took effect')
    } catch (err) {
      this.options.log.warn({ err }, 'could not look for reserved plans due')
    }
    await this.#schedule()
  }

  async #schedule (): Promise<void> {
    if (this.#stopped) return
    this.#timerAt = Infinity
    let delay = this.options.pollMs
    try {
      const next = await this.activations.nextDue()
      // Not sooner than a second: a tenant whose activation keeps failing is still due.
      if (next !== undefined) delay = Math.min(delay, Math.max(MIN_DELAY_MS, next - this.options.now()))
    } catch (err) {
      this.options.log.warn({ err }, 'could not look for reserved plans due')
    }
    this.#arm(delay)
  }

  #arm (delayMs: number): void {
    this.#busy = false
    this.#timerAt = this.options.now() + delayMs
    this.#timer = setTimeout(() => { this.#running = this.#tick() }, delayMs)
    this.#timer.unref()
  }
}
