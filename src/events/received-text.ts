// The JSON text each delivered item was parsed from, kept beside the parsed value for as long as the value
// lives (the request), so that a refused item can be quarantined as it was sent: the value alone has lost
// what JSON.parse changes (1e309 became Infinity, a big integer was rounded, `\u0000` and `\ud800` are
// characters no database column takes).

import { randomUUID } from 'node:crypto'

const texts = new WeakMap<object, string>()

/** Notes that `value` (an object or array parsed by the body parser) was parsed from `text`. */
export function rememberText<T> (value: T, text: string): T {
  if (value !== null && typeof value === 'object') texts.set(value, text)
  return value
}

// A string no sender can guess, standing in for a non-finite number until the text is written.
const SENTINEL = `non-finite-${randomUUID()}:`

/**
 * The text `value` was parsed from; for a value the body parser did not parse (a scalar item, or one built
 * in code), a JSON text that JSON.parse reads back as `value`: JSON.stringify, except that a number beyond
 * JSON's range is written as 1e309 / -1e309 (JSON.stringify writes null).
 */
export function textOf (value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const text = texts.get(value)
    if (text !== undefined) return text
  }
  let nonFinite = false
  const text = JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== 'number' || Number.isFinite(inner)) return inner
    nonFinite = true
    return `${SENTINEL}${inner > 0 ? '1e309' : '-1e309'}`
  }) ?? 'null'
  return nonFinite ? text.replaceAll(new RegExp(`"${SENTINEL}(-?1e309)"`, 'g'), '$1') : text
}
