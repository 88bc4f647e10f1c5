// Secrets that travel inside SaaSus events: the SaaS's own `api_key`, passwords (user creation, password
// change, invitations) and tokens. They are replaced before an event is stored or logged.

import { MAX_DEPTH, stringProblem } from './json-value.js'

export const REDACTED = '[REDACTED]'
const TOO_DEEP = `[nested deeper than ${MAX_DEPTH} levels: not kept]`

const SECRET_KEY = /(^|_)(api_?key|password|access_token|refresh_token|id_token|secret|client_secret)$/i

export function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(key)
}

/** A deep copy of a JSON value with every secret-named property's value replaced by REDACTED. */
export function redactSecrets (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (value === null || typeof value !== 'object') return value
  const copy: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = isSecretKey(key) && inner !== null && inner !== '' ? REDACTED : redactSecrets(inner)
  }
  return copy
}

// A string that is not JSON cannot be searched reliably for a secret's value; when it mentions a
// secret-like name it is replaced whole.
const SECRET_MENTION = /pass_?word|api_?key|token|secret/i

// Refused input may hold what no database column can store as it is: such strings keep U+FFFD in place of
// the unstorable characters, and numbers beyond JSON's range are kept as the text "Infinity" / "-Infinity".
const UNSTORABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/g
const storable = (value: string): string => stringProblem(value) === undefined ? value : value.replace(UNSTORABLE, '\uFFFD')

/**
 * Like redactSecrets, for input that failed validation: JSON held in strings is decoded and redacted too,
 * a string that is not JSON but mentions a secret-like name is replaced whole, and what lies deeper than
 * MAX_DEPTH levels is not kept (refused input may be nested deep enough to overflow the stack). The copy
 * can always be stored: `__proto__` stays a plain property, unstorable characters and numbers are replaced.
 */
export function redactUntrusted (value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return TOO_DEEP
  // JSON.stringify would write null: keep the text instead (Infinity, -Infinity).
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'string') {
    if (!SECRET_MENTION.test(value)) return storable(value)
    try {
      const parsed: unknown = JSON.parse(value)
      if (parsed !== null && typeof parsed === 'object') return JSON.stringify(redactUntrusted(parsed, depth + 1))
    } catch {}
    return `${REDACTED} (${value.length} characters that mention a secret)`
  }
  if (Array.isArray(value)) return value.map(inner => redactUntrusted(inner, depth + 1))
  if (value === null || typeof value !== 'object') return value
  // No prototype, so that a `__proto__` key is an own property (data), never the copy's prototype.
  const copy: Record<string, unknown> = Object.create(null)
  for (const key in value) {
    const inner = (value as Record<string, unknown>)[key]
    copy[storable(key)] = isSecretKey(key) && inner !== null && inner !== '' ? REDACTED : redactUntrusted(inner, depth + 1)
  }
  return copy
}
