import type { FeedEntryText } from '../db/repository.js'

// A page of GET /changes as the bytes sent: each entry serialised once, the page's JSON made once from
// those buffers and written as one Buffer (no chunked stream of thousands of small writes). Many long polls
// woken by one commit share one page (src/feed/tail.ts), and so do concurrent reads of one cursor range
// (src/feed/page-cache.ts): the work and memory of a wake-up or a flood grow with the distinct pages, not
// with the number of requests.

/** An entry of the feed and its JSON, made once and shared by every page that holds it. */
export interface SerialisedEntry {
  cursor: number
  json: Buffer
}

/** A page: its entries, and `{"entries":[...],"next_after":n}` as the bytes sent. */
export interface Page {
  entries: SerialisedEntry[]
  json: Buffer
}

/** An entry's JSON text (the stored fields as they are: repository.feedEntryTexts) as bytes. */
export const serialise = (entry: FeedEntryText): SerialisedEntry => ({ cursor: entry.cursor, json: Buffer.from(entry.json) })

const OPEN = Buffer.from('{"entries":[')
const COMMA = Buffer.from(',')

/** The page of `entries` read after cursor `after` (its next_after: the last entry's cursor, or `after`). */
export function pageOf (entries: SerialisedEntry[], after: number): Page {
  const parts: Buffer[] = [OPEN]
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) parts.push(COMMA)
    parts.push(entries[i].json)
  }
  parts.push(Buffer.from(`],"next_after":${entries.at(-1)?.cursor ?? after}}`))
  return { entries, json: Buffer.concat(parts) }
}
