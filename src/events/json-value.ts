// What a parsed JSON value may hold before anything else looks at it. One rule everywhere (outer body and
// the JSON strings nested in it): a value is taken exactly as received, or refused with the reason.

/** Deeper than this is refused: SaaSus bodies are a few levels deep, and recursive code must not overflow. */
export const MAX_DEPTH = 64

/**
 * The most values (object members and array elements, at any depth, with those of the JSON nested in its
 * strings) one event may hold. SaaSus events hold tens; each value costs microseconds to parse, check,
 * redact and store, all in one turn of the event loop, so 100,000 would stall every other request.
 */
export const MAX_EVENT_VALUES = 10_000

/** The values an event may hold (`max`) and those counted so far (`used`, as its JSON texts are checked). */
export interface ValueBudget {
  readonly max: number
  used: number
}

export const tooManyValues = (max: number): string =>
  `holds more than ${max} values (object members and array elements, with the JSON nested in its strings): more than an event may hold (MAX_EVENT_VALUES)`

/** Why a value is refused: `field` is a JSON pointer (below the caller's base) to the culprit. */
export interface JsonProblem {
  field: string
  message: string
}

const escape = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1')

/** An array or object still to visit, and how it was reached (its pointer is spelled out only if needed). */
interface Frame {
  node: object
  depth: number
  parent: Frame | undefined
  key: string
}

function pointerOf (frame: Frame | undefined, base: string, last?: string): string {
  const keys: string[] = last === undefined ? [] : [escape(last)]
  for (let f = frame; f?.parent !== undefined; f = f.parent) keys.push(escape(f.key))
  return base + keys.reverse().map(key => `/${key}`).join('')
}

/**
 * Why a string cannot be stored exactly: PostgreSQL's text and jsonb refuse U+0000 and unpaired surrogates,
 * and re-encoding them as UTF-8 would change them into U+FFFD. Undefined when it can.
 */
// A high surrogate not followed by a low one, or a low one not preceded by a high one (no `u` flag: code units).
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function stringProblem (value: string): string | undefined {
  if (UNPAIRED_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode text)'
  if (value.includes('\u0000')) return 'contains the character U+0000'
  return undefined
}

/** Why a property name is refused: names that reach an object's prototype when copied, as secure-json-parse refuses. */
function keyProblem (key: string, inner: unknown): string | undefined {
  if (key === '__proto__') return 'is a property name this service refuses (__proto__)'
  if (key === 'constructor' && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) {
    return 'is a property name this service refuses (constructor.prototype)'
  }
  return stringProblem(key)
}

const numberProblem = (value: number): string | undefined =>
  Number.isFinite(value) ? undefined : 'is a number outside what JSON can carry (beyond ±1.8e308)'

function scalarProblem (value: unknown): string | undefined {
  if (typeof value === 'string') return stringProblem(value)
  if (typeof value === 'number') return numberProblem(value)
  return undefined
}

/**
 * The first reason to refuse a parsed JSON value, or undefined: an array or object nested deeper than `max`
 * levels, a `__proto__` (or `constructor.prototype`) property, a number JSON.parse turned into Infinity
 * (`1e309`), or a string or name with an unpaired surrogate or U+0000; with a `budget`, more values than
 * it has left (the values are counted in it). Iterative, so that it cannot itself overflow the stack;
 * builds no pointer unless it fails.
 */
export function jsonProblem (value: unknown, base: string, max: number = MAX_DEPTH, budget?: ValueBudget): JsonProblem | undefined {
  const top = scalarProblem(value)
  if (top !== undefined) return { field: base, message: top }
  if (value === null || typeof value !== 'object') return undefined
  const stack: Frame[] = [{ node: value, depth: 0, parent: undefined, key: '' }]
  while (stack.length > 0) {
    const frame = stack.pop()!
    if (frame.depth >= max) return { field: pointerOf(frame, base), message: `is nested deeper than ${max} levels` }
    const node = frame.node as Record<string, unknown>
    const isArray = Array.isArray(node)
    const children: Frame[] = []
    const keys = Object.keys(node)
    if (budget !== undefined && (budget.used += keys.length) > budget.max) return { field: base, message: tooManyValues(budget.max) }
    for (const key of keys) {
      const inner = node[key]
      const problem = (isArray ? undefined : keyProblem(key, inner)) ?? scalarProblem(inner)
      if (problem !== undefined) return { field: pointerOf(frame, base, key), message: problem }
      if (inner !== null && typeof inner === 'object') children.push({ node: inner, depth: frame.depth + 1, parent: frame, key })
    }
    // Reversed onto the stack: containers are visited in document order, so the first problem is reported.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
  return undefined
}
