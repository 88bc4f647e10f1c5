import type { Page } from './page.js'

// Pages of GET /changes by cursor range, so that a flood of requests for one range (1,000 followers starting
// from after=0, followers in step) reads and serialises it once. A page that stopped before the head (at
// its limit or its byte budget) never changes: entries below the head are immutable, and pruning is checked
// (410) before a page is looked up. Such pages are kept, least recently used first out, within a byte
// budget. A page that reached the head is not kept (a commit may extend it), but requests that ask for it
// while it is being read with the same head share that read.

export interface ReadPage {
  page: Page
  /** Whether the page stopped before the head: the same request will always get the same page. */
  final: boolean
}

export class PageCache {
  readonly #kept = new Map<string, Page>()
  readonly #reading = new Map<string, Promise<ReadPage>>()
  #bytes = 0
  /** Pages answered from memory or a shared read, and pages read (for tests and metrics). */
  hits = 0
  reads = 0

  /** `maxBytes`: the kept pages' JSON in all; a page larger than a quarter of it is never kept. */
  constructor (readonly maxBytes: number) {}

  /** Bytes of the pages kept. */
  get bytes (): number { return this.#bytes }

  /** The page after cursor `after` of at most `limit` entries, with the feed's head at `head`. */
  async get (after: number, limit: number, head: number, read: () => Promise<ReadPage>): Promise<Page> {
    const key = `${after}:${limit}`
    const kept = this.#kept.get(key)
    if (kept !== undefined) {
      this.hits++
      // Most recently used: last out.
      this.#kept.delete(key)
      this.#kept.set(key, kept)
      return kept
    }
    const readKey = `${key}:${head}`
    const shared = this.#reading.get(readKey)
    if (shared !== undefined) {
      this.hits++
      return (await shared).page
    }
    this.reads++
    const reading = read()
    this.#reading.set(readKey, reading)
    try {
      const result = await reading
      if (result.final) this.#keep(key, result.page)
      return result.page
    } finally {
      this.#reading.delete(readKey)
    }
  }

  #keep (key: string, page: Page): void {
    const size = page.json.length
    if (size * 4 > this.maxBytes || this.#kept.has(key)) return
    this.#kept.set(key, page)
    this.#bytes += size
    for (const [oldest, old] of this.#kept) {
      if (this.#bytes <= this.maxBytes) break
      this.#kept.delete(oldest)
      this.#bytes -= old.json.length
    }
  }
}
