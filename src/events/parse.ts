import { decodeEvent, type Clock, type DecodedEvent } from './decode.js'
import { planEvent, type Plan } from './changes.js'
import type { ValidationProblem } from './checker.js'

export type Parsed =
  | { ok: true, event: DecodedEvent, plan: Plan }
  | { ok: false, problem: ValidationProblem }

/**
 * A request body to "this event, asking for these changes", or the reason it is refused. Pure: the clock
 * (for events dated in the future) and the most values an event may hold are passed in; rebuilds of
 * stored events pass neither.
 */
export function parseEvent (body: unknown, clock?: Clock, maxValues?: number): Parsed {
  const decoded = decodeEvent(body, clock, maxValues)
  if (!decoded.ok) return decoded
  const planned = planEvent(decoded.event)
  if (!planned.ok) return planned
  return { ok: true, event: decoded.event, plan: planned.plan }
}
