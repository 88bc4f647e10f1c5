import type { ReconcileStore } from '../db/reconcile-store.js'
import type { ReconcileLog, Reconciler, RunResult } from './reconciler.js'

// Reconciliation inside the service: a database never reconciled successfully is reconciled soon after
// start (and again every `retryMs` until it succeeds, when no interval is set), then every `intervalMs`.
// Replicas each try; the lease lets one run and the others record a skipped round.

export interface SchedulerOptions {
  /** Between runs; 0: no periodic runs. */
  intervalMs: number
  /** Pause after start before the first check. */
  startDelayMs: number
  /** Without an interval: pause before trying again while no run has ever succeeded. */
  retryMs: number
  log: ReconcileLog
}

export class ReconcileScheduler {
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  constructor (readonly reconciler: Reconciler, readonly store: ReconcileStore, readonly options: SchedulerOptions) {}

  start (): void {
    this.#after(this.options.startDelayMs, 'start')
  }

  /** Stops the timer and the run in progress (at its next chunk), and waits for it to end. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.reconciler.stop()
    await this.#running
  }

  #after (delayMs: number, trigger: 'start' | 'interval'): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => { this.#running = this.#tick(trigger) }, delayMs)
    this.#timer.unref()
  }

  async #tick (trigger: 'start' | 'interval'): Promise<void> {
    let due = trigger === 'interval'
    let result: RunResult | undefined
    try {
      due ||= await this.store.lastSuccess() === undefined
      if (due) result = await this.reconciler.run({ trigger })
    } catch (err) {
      this.options.log.warn({ err }, 'reconciliation could not run')
    }
    if (this.options.intervalMs > 0) this.#after(this.options.intervalMs, 'interval')
    else if (due && result?.outcome !== 'succeeded') this.#after(this.options.retryMs, 'start')
  }
}
