// Failed sign-ins count toward the API's per-address limit (plugins/auth-failures.ts). Once an address is
// over it, the console refuses its sign-ins for the rest of the window without looking at the password:
// otherwise a guesser over the limit would still learn which guess was right.

export class SignInLockout {
  readonly #until = new Map<string, number>()

  constructor (readonly maxTracked = 10_000) {}

  lock (ip: string, forMs: number, now = Date.now()): void {
    if (this.#until.size >= this.maxTracked) {
      for (const [address, until] of this.#until) if (until <= now) this.#until.delete(address)
      // Still full: the oldest entry gives way (a Map iterates in insertion order).
      if (this.#until.size >= this.maxTracked) this.#until.delete(this.#until.keys().next().value!)
    }
    this.#until.set(ip, now + forMs)
  }

  /** Seconds until the address may sign in again; 0 when it may now. */
  retryAfterSeconds (ip: string, now = Date.now()): number {
    const until = this.#until.get(ip)
    if (until === undefined) return 0
    if (until <= now) {
      this.#until.delete(ip)
      return 0
    }
    return Math.ceil((until - now) / 1000)
  }
}
