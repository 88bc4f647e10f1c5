import { createHash } from 'node:crypto'
import { OversizedEvent, EXCERPT_BYTES } from './oversized.js'
import { textOf } from './received-text.js'
import { textWithoutSecrets } from './secret-fields.js'
import { redactUntrusted, storableCopy } from './redact.js'
import type { ValidationProblem } from './checker.js'

// What the quarantine keeps of a refused item: the text as it was sent, with only SaaSus's secret fields
// replaced, so that a replay judges (and, once valid, applies) exactly what SaaSus sent; and a copy to
// show, which any column can store. An item whose secrets cannot be found field by field, or that was
// too large to parse, is kept as a description only, with the reason it can never be replayed.

export interface QuarantineCopy {
  /** What the console shows: the item as sent, except what no column can hold (U+FFFD, "Infinity"). */
  raw: unknown
  /** The item's JSON text as received, SaaSus's secret fields replaced; null when not kept. */
  original: string | null
  /** Why the original was not kept (a replay is refused with this), or null. */
  replayRefusal: string | null
}

const lenient = new TextDecoder('utf-8')

/** A description of a text the quarantine does not keep: its size, hash, and start (anything secret-like hidden). */
function description (text: string, notKept: string): Record<string, unknown> {
  const bytes = Buffer.from(text)
  return {
    not_kept: notKept,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    excerpt: redactUntrusted(lenient.decode(bytes.subarray(0, EXCERPT_BYTES)))
  }
}

/** The quarantine's copy of `item`, refused with `problem`. */
export function quarantineCopy (item: unknown, problem: ValidationProblem): QuarantineCopy {
  // A replay of what was not kept is refused with the intake's own reason, and why it was not kept.
  const refused = `body${problem.field} ${problem.message}`
  if (item instanceof OversizedEvent) {
    return { raw: redactUntrusted(item.quarantined), original: null, replayRefusal: `${refused}; kept as a description, not as the event` }
  }
  const text = textOf(item)
  const cleaned = textWithoutSecrets(text)
  if (!cleaned.ok) {
    const why = `body${cleaned.field} ${cleaned.reason}: its secrets could not be found field by field, so it was kept as a description, not as the event`
    return { raw: description(text, why), original: null, replayRefusal: `${refused}; ${why}` }
  }
  return { raw: storableCopy(cleaned.text === text ? item : JSON.parse(cleaned.text)) ?? null, original: cleaned.text, replayRefusal: null }
}
