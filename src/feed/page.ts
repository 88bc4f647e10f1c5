import { Readable } from 'node:stream'
import type { FeedEntryView } from '../db/repository.js'

// A page of GET /changes as the bytes sent: each entry serialised once, the page streamed from those
// buffers. Many long polls woken by one commit share the entries' buffers (src/feed/tail.ts): the work and
// memory of a wake-up grow with the entries read, not with the number of waiters times their pages.

/** An entry of the feed and its JSON, made once and shared by every page that holds it. */
export interface SerialisedEntry {
  cursor: number
  json: Buffer
}

export const serialise = (entry: FeedEntryView): SerialisedEntry => ({ cursor: entry.cursor, json: Buffer.from(JSON.stringify(entry)) })

const OPEN = Buffer.from('{"entries":[')
const COMMA = Buffer.from(',')

/** `{"entries":[...],"next_after":n}` as a stream of the entries' own buffers (none copied). */
export function pageStream (entries: SerialisedEntry[], after: number): Readable {
  const nextAfter = entries.at(-1)?.cursor ?? after
  function * chunks (): Generator<Buffer> {
    yield OPEN
    for (let i = 0; i < entries.length; i++) {
      if (i > 0) yield COMMA
      yield entries[i].json
    }
    yield Buffer.from(`],"next_after":${nextAfter}}`)
  }
  return Readable.from(chunks(), { objectMode: false })
}
