import { createHash } from 'node:crypto'
import { MAX_EVENT_VALUES } from './json-value.js'
import type { ValidationProblem } from './checker.js'

/** How much of an oversized item's text the quarantine keeps. */
export const EXCERPT_BYTES = 1024

const lenient = new TextDecoder('utf-8')

/**
 * An event (alone or an item of a batch) holding more than MAX_EVENT_VALUES values, refused from its bytes
 * before JSON.parse would build it: building, checking and redacting 100,000 properties takes the event
 * loop for hundreds of milliseconds. What the quarantine keeps of it is a description: its size, the
 * SHA-256 of its bytes (repeats are counted as one) and the start of its text, redacted like any refused
 * string (replaced whole when it mentions a secret-like name).
 */
export class OversizedEvent {
  readonly bytes: number
  readonly sha256: string
  readonly excerpt: string

  constructor (text: Uint8Array, readonly values: number) {
    this.bytes = text.length
    this.sha256 = createHash('sha256').update(text).digest('hex')
    // A cut inside a multi-byte character leaves U+FFFD at the end, never an error.
    this.excerpt = lenient.decode(text.subarray(0, EXCERPT_BYTES))
  }

  get problem (): ValidationProblem {
    return {
      field: '',
      message: `holds ${this.values} values (object members and array elements): more than the ${MAX_EVENT_VALUES} an event may hold (MAX_EVENT_VALUES); refused before parsing`
    }
  }

  /** What the quarantine keeps (still to be redacted): the item itself is not parsed. */
  get quarantined (): Record<string, unknown> {
    return { not_parsed: 'more values than MAX_EVENT_VALUES', bytes: this.bytes, values: this.values, sha256: this.sha256, excerpt: this.excerpt }
  }
}
