import type { FeedEntryText } from '../db/repository.js'
import { pageOf, serialise, type Page, type SerialisedEntry } from './page.js'
import { nextTurn } from '../work-slice.js'

// Long poll without a query per waiting request per commit: requests that found nothing after their
// cursor wait here. When a commit is heard of (in this process, or through PostgreSQL's NOTIFY from any
// replica), ONE read fetches the entries after the oldest waiting cursor (within the page byte budget),
// serialises each entry ONCE, and waiters with the same cursor and limit share ONE page (usually all of
// them: they waited at the head). Waiters are answered WAKE_CHUNK at a time, the event loop turning between
// chunks, so that intake and probes are served while thousands of answers go out. Reads never overlap:
// commits heard of during a read make one more read after it.

export interface FeedSource {
  feedEntryTexts: (after: number, limit: number, maxBytes: number) => Promise<FeedEntryText[]>
}

interface Waiter {
  after: number
  limit: number
  resolve: (page: Page | undefined) => void
  timer: NodeJS.Timeout
}

/** Most entries one shared read fetches: the largest page a request may ask for. */
export const FETCH_LIMIT = 1000

/** Waiters answered before the event loop turns (each answer is a write of a shared page to a socket). */
export const WAKE_CHUNK = 32

/** The index of the first of `entries` (in cursor order) after `cursor`. */
function firstAfter (entries: SerialisedEntry[], cursor: number): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (entries[mid].cursor > cursor) hi = mid
    else lo = mid + 1
  }
  return lo
}

export class FeedTail {
  #known = 0
  readonly #waiters = new Set<Waiter>()
  #reading = false
  #again = false

  /** `maxBytes`: a shared read stops before this many bytes of entries (PAGE_MAX_BYTES), after the first. */
  constructor (
    private readonly source: FeedSource,
    private readonly onError: (err: unknown) => void,
    private readonly maxBytes: number = Number.MAX_SAFE_INTEGER
  ) {}

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
   * The page of up to `limit` entries after `after`, as soon as some are committed, or undefined after `ms`.
   * The caller has just read nothing after `after`; a commit heard of since then is read at once.
   */
  async wait (after: number, limit: number, ms: number): Promise<Page | undefined> {
    return await new Promise(resolve => {
      const waiter: Waiter = {
        after,
        limit,
        resolve,
        timer: setTimeout(() => { this.#waiters.delete(waiter); resolve(undefined) }, ms)
      }
      this.#waiters.add(waiter)
      if (this.#known > after) void this.#read()
    })
  }

  /** Answers every waiting request with nothing (shutdown). */
  close (): void {
    for (const waiter of this.#waiters) { clearTimeout(waiter.timer); waiter.resolve(undefined) }
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
        const entries = (await this.source.feedEntryTexts(from, FETCH_LIMIT, this.maxBytes)).map(serialise)
        const newest = entries.at(-1)?.cursor ?? from
        if (newest > this.#known) this.#known = newest
        await this.#answer(entries)
        // A read cut short (by rows or bytes) may have stopped before what the remaining waiters wait for.
        if (entries.length > 0 && newest < this.#known) this.#again = true
      } while (this.#again)
    } catch (err) {
      // The waiters stay: their time-out answers them with a read of their own.
      this.onError(err)
    } finally {
      this.#reading = false
    }
  }

  /** Answers every waiter that `entries` hold something for, WAKE_CHUNK at a time. */
  async #answer (entries: SerialisedEntry[]): Promise<void> {
    const pages = new Map<string, Page>()
    let answered = 0
    for (const waiter of [...this.#waiters]) {
      // Gone meanwhile (its time ran out during a turn of the loop).
      if (!this.#waiters.has(waiter)) continue
      const start = firstAfter(entries, waiter.after)
      if (start === entries.length) continue
      const key = `${start}:${waiter.limit}`
      let page = pages.get(key)
      if (page === undefined) pages.set(key, page = pageOf(entries.slice(start, start + waiter.limit), waiter.after))
      clearTimeout(waiter.timer)
      this.#waiters.delete(waiter)
      waiter.resolve(page)
      if (++answered % WAKE_CHUNK === 0) await nextTurn()
    }
  }
}
