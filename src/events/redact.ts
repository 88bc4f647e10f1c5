// Copies of refused input for people to look at (the console's quarantine pages), never for applying: what
// the quarantine keeps to replay is the text as received (secret-fields.ts). Here a heuristic may hide
// more than SaaSus's secret fields, since nothing here is data.

import { MAX_DEPTH, stringProblem } from './json-value.js'
import { REDACTED } from './secret-fields.js'

export { REDACTED }
const TOO_DEEP = `[nested deeper than ${MAX_DEPTH} levels: not kept]`

const SECRET_KEY = /(^|_)(api_?key|password|access_token|refresh_token|id_token|secret|client_secret)$/i

export function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(key)
}

// A string that is not JSON cannot be searched reliably for a secret's value; when it mentions a
// secret-like name it is replaced whole.
const SECRET_MENTION = /pass_?word|api_?key|token|secret/i

// Refused input may hold what no database column can store as it is: such strings keep U+FFFD in place of
// the unstorable characters, and numbers beyond JSON's range are kept as the text "Infinity" / "-Infinity".
const UNSTORABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/g
const storable = (value: string): string => stringProblem(value) === undefined ? value : value.replace(UNSTORABLE, '\uFFFD')

/**
 * A copy of refused input that can always be stored and shown: `__proto__` stays a plain property,
 * unstorable characters and numbers are replaced, what lies deeper than MAX_DEPTH levels is not kept
 * (refused input may be nested deep enough to overflow the stack). With `redact`, JSON held in strings is
 * decoded and redacted too, secret-named members are replaced and a string that is not JSON but mentions
 * a secret-like name is replaced whole (for descriptions of what the quarantine could not keep as sent).
 */
function untrustedCopy (value: unknown, redact: boolean, depth: number): unknown {
  if (depth > MAX_DEPTH) return TOO_DEEP
  // JSON.stringify would write null: keep the text instead (Infinity, -Infinity).
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'string') {
    if (!redact || !SECRET_MENTION.test(value)) return storable(value)
    try {
      const parsed: unknown = JSON.parse(value)
      if (parsed !== null && typeof parsed === 'object') return JSON.stringify(untrustedCopy(parsed, redact, depth + 1))
    } catch {}
    return `${REDACTED} (${value.length} characters that mention a secret)`
  }
  if (Array.isArray(value)) return value.map(inner => untrustedCopy(inner, redact, depth + 1))
  if (value === null || typeof value !== 'object') return value
  // No prototype, so that a `__proto__` key is an own property (data), never the copy's prototype.
  const copy: Record<string, unknown> = Object.create(null)
  for (const key in value) {
    const inner = (value as Record<string, unknown>)[key]
    copy[storable(key)] = redact && isSecretKey(key) && inner !== null && inner !== '' ? REDACTED : untrustedCopy(inner, redact, depth + 1)
  }
  return copy
}

/** A storable copy of refused input, for display: every value as sent except what no column can hold. */
export const storableCopy = (value: unknown): unknown => untrustedCopy(value, false, 0)

/** A storable copy with anything that looks like a secret hidden (by its name, or a mention in a string). */
export const redactUntrusted = (value: unknown): unknown => untrustedCopy(value, true, 0)
