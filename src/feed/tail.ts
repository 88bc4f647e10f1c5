import type { FeedEntryView } from '../db/repository.js'

// Long poll without a query per waiting request per commit: requests that found nothing after their
// cursor wait here. When a commit is heard of (in this process, or through PostgreSQL's NOTIFY from any
// replica), ONE read fetches the entries after the oldest waiting cursor and every waiter takes its page
// from it. Reads never overlap: commits heard of during a read make one more read after it.

export interface FeedSource {
  feedEntries: (after: number, limit: number) => Promise<FeedEntryView[]>
}

interface Waiter {
  after: number
  limit: number
  resolve: (entries: FeedEntryView[]) => void
  timer: NodeJS.Timeout
}

/** Most entries one shared read fetches: the largest page a request may ask for. */
export const FETCH_LIMIT = 1000

export class FeedTail {
  #known = 0
  readonly #waiters = new Set<Waiter>()
  #reading = false
  #again = false

  constructor (private readonly source: FeedSource, private readonly onError: (err: unknown) => void) {}

  /** How many requests are waiting. */
  get waiting (): number { return this.#waiters.size }

  /** The newest cursor heard of. */
  get known (): number { return this.#known }

  /** A commit gave out cursors up to `head`: wake whoever waits for them. */
  advance (head: number): void {
    if (head <= this.#known) return
    this.#known = head
    void this.#read()
  }

  /** Reads again whatever was heard (after a lost notification connection came back). */
  poke (): void { void this.#read() }

  /**
   * Up to `limit` entries after `after`, as soon as some are committed, or none after `ms`. The caller has
   * just read nothing after `after`; a commit heard of since then is read at once.
   */
  async wait (after: number, limit: number, ms: number): Promise<FeedEntryView[]> {
    return await new Promise(resolve => {
      const waiter: Waiter = {
        after,
        limit,
        resolve,
        timer: setTimeout(() => { this.#waiters.delete(waiter); resolve([]) }, ms)
      }
      this.#waiters.add(waiter)
      if (this.#known > after) void this.#read()
    })
  }

  /** Answers every waiting request with nothing (shutdown). */
  close (): void {
    for (const waiter of this.#waiters) { clearTimeout(waiter.timer); waiter.resolve([]) }
    this.#waiters.clear()
  }

  async #read (): Promise<void> {
    if (this.#reading) { this.#again = true; return }
    this.#reading = true
    try {
      do {
        this.#again = false
        if (this.#waiters.size === 0) return
        const from = Math.min(...[...this.#waiters].map(w => w.after))
        const entries = await this.source.feedEntries(from, FETCH_LIMIT)
        const newest = entries.at(-1)?.cursor ?? from
        if (newest > this.#known) this.#known = newest
        for (const waiter of this.#waiters) {
          const page = entries.filter(e => e.cursor > waiter.after).slice(0, waiter.limit)
          if (page.length === 0) continue
          clearTimeout(waiter.timer)
          this.#waiters.delete(waiter)
          waiter.resolve(page)
        }
        // A full read may have stopped short of what the remaining waiters wait for.
        if (entries.length === FETCH_LIMIT) this.#again = true
      } while (this.#again)
    } catch (err) {
      // The waiters stay: their time-out answers them with a read of their own.
      this.onError(err)
    } finally {
      this.#reading = false
    }
  }
}
