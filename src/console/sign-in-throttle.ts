// Failed console sign-ins slow guessing without locking the operator out (issue 25, row 14). Nothing is
// refused for others' failures: an attempt waits, before its password is checked, a delay that grows with
// the failures already counted for its source, so a right and a wrong guess cost the same and the answer
// says nothing more than whether this guess was right. Sources:
//   - a device: a browser that signed in before carries a signed, random device id (a cookie no one gets
//     without the password); its attempts count only against that device;
//   - an address, for every other attempt, which also counts against one budget shared by all addresses,
//     so that guesses spread over many addresses are slowed too.
// One attempt per source is checked at a time (a second one meanwhile is answered 429 unchecked), and at
// most MAX_WAITING_UNKNOWN attempts without a device wait at once: the rate of guesses is bounded whatever
// the concurrency, while the operator's own browser is never behind anyone else's failures.

/** Delay of the first failure past a budget; each further one doubles it, up to maxDelayMs. */
export const BASE_DELAY_MS = 250
/** All addresses together may fail this many times the per-address budget per window before everyone waits. */
export const GLOBAL_BUDGET_FACTOR = 5
/** Past the global budget, the delay doubles every this many failures. */
export const GLOBAL_DOUBLING = 10
/** Attempts without a device cookie waiting or being checked at once; more are answered 429 unchecked. */
export const MAX_WAITING_UNKNOWN = 16

export interface ThrottleLimits {
  /** Failures one source may have per window before its attempts wait (AUTH_FAILURE_LIMIT). */
  perSource: number
  /** The window the failures are counted in (AUTH_FAILURE_WINDOW_MS). */
  windowMs: number
  /** The longest wait before a password is checked (CONSOLE_SIGN_IN_MAX_DELAY_MS). */
  maxDelayMs: number
}

export type SignInSource = { device: string } | { address: string }

interface Bucket {
  windowStart: number
  failures: number
  busy: boolean
}

/** An admitted attempt: wait `waitMs`, check the password, then `done(failed)` (exactly once). */
export interface Admission {
  waitMs: number
  done: (failed: boolean) => void
}

export class SignInThrottle {
  readonly #buckets = new Map<string, Bucket>()
  readonly #global: Bucket = { windowStart: 0, failures: 0, busy: false }
  #waitingUnknown = 0

  constructor (readonly limits: ThrottleLimits, readonly maxTracked = 10_000, readonly now: () => number = Date.now) {}

  /** The delay owed after `failures` failures against a budget of `free`, doubling every `every` failures. */
  #delay (failures: number, free: number, every: number): number {
    if (failures < free) return 0
    return Math.min(this.limits.maxDelayMs, BASE_DELAY_MS * 2 ** Math.min(30, Math.floor((failures - free) / every)))
  }

  /** The bucket's failures in the current window (a window that has passed starts again from 0). */
  #current (bucket: Bucket, now: number): Bucket {
    if (now - bucket.windowStart >= this.limits.windowMs) {
      bucket.windowStart = now
      bucket.failures = 0
    }
    return bucket
  }

  #bucket (key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxTracked) {
        for (const [k, b] of this.#buckets) if (!b.busy && now - b.windowStart >= this.limits.windowMs) this.#buckets.delete(k)
        // Still full: the oldest entry gives way (a Map iterates in insertion order).
        if (this.#buckets.size >= this.maxTracked) this.#buckets.delete(this.#buckets.keys().next().value!)
      }
      bucket = { windowStart: now, failures: 0, busy: false }
      this.#buckets.set(key, bucket)
    }
    return this.#current(bucket, now)
  }

  /** How long `source` would wait now before its password is checked. */
  waitMs (source: SignInSource): number {
    const now = this.now()
    const key = 'device' in source ? `device:${source.device}` : `address:${source.address}`
    return this.#wait(this.#bucket(key, now), 'device' in source, now)
  }

  #wait (bucket: Bucket, device: boolean, now: number): number {
    const own = this.#delay(bucket.failures, this.limits.perSource, 1)
    if (device) return own
    const global = this.#current(this.#global, now)
    return Math.max(own, this.#delay(global.failures, this.limits.perSource * GLOBAL_BUDGET_FACTOR, GLOBAL_DOUBLING))
  }

  /**
   * Admits one attempt from `source`, or answers how many seconds to wait when one of its attempts is
   * already being checked, or MAX_WAITING_UNKNOWN attempts without a device wait already.
   */
  enter (source: SignInSource): Admission | { busySeconds: number } {
    const now = this.now()
    const device = 'device' in source
    const bucket = this.#bucket(device ? `device:${source.device}` : `address:${source.address}`, now)
    const waitMs = this.#wait(bucket, device, now)
    if (bucket.busy || (!device && this.#waitingUnknown >= MAX_WAITING_UNKNOWN)) return { busySeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
    bucket.busy = true
    if (!device) this.#waitingUnknown++
    let finished = false
    return {
      waitMs,
      done: failed => {
        if (finished) return
        finished = true
        bucket.busy = false
        if (!device) this.#waitingUnknown--
        if (!failed) return
        const at = this.now()
        this.#current(bucket, at).failures++
        if (!device) this.#current(this.#global, at).failures++
      }
    }
  }
}
