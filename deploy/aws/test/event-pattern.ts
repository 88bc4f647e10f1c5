/**
 * EventBridge's event-pattern matching, for the operators this project's rule uses (exact values, `prefix`,
 * nested fields). Any other operator throws, so a pattern this cannot evaluate fails the test instead of passing.
 * (No maintained npm package evaluates EventBridge patterns offline; the service's TestEventPattern needs AWS.)
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export function matches (pattern: Record<string, Json>, event: Record<string, Json>): boolean {
  return Object.entries(pattern).every(([field, rule]) => {
    if (!(field in event)) return false
    const value = event[field]
    if (Array.isArray(rule)) {
      // A list of alternatives; an array in the event matches when any of its elements does.
      const values = Array.isArray(value) ? value : [value]
      return values.some(v => rule.some(alternative => matchesValue(alternative, v)))
    }
    if (rule !== null && typeof rule === 'object') {
      return value !== null && typeof value === 'object' && !Array.isArray(value) && matches(rule, value)
    }
    throw new Error(`event pattern: field ${field} must be a list of values or a nested pattern`)
  })
}

function matchesValue (alternative: Json, value: Json): boolean {
  if (alternative === null || typeof alternative !== 'object') return alternative === value
  const keys = Object.keys(alternative)
  if (keys.length === 1 && keys[0] === 'prefix' && !Array.isArray(alternative)) {
    const prefix = alternative.prefix
    if (typeof prefix !== 'string') throw new Error('event pattern: prefix takes a string')
    return typeof value === 'string' && value.startsWith(prefix)
  }
  throw new Error(`event pattern: unsupported operator ${JSON.stringify(alternative)}`)
}
