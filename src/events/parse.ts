import { decodeEvent, type DecodedEvent } from './decode.js'
import { planEvent, type Plan } from './changes.js'
import type { ValidationProblem } from './checker.js'

export type Parsed =
  | { ok: true, event: DecodedEvent, plan: Plan }
  | { ok: false, problem: ValidationProblem }

/** A request body to "this event, asking for these changes", or the reason it is refused. Pure. */
export function parseEvent (body: unknown): Parsed {
  const decoded = decodeEvent(body)
  if (!decoded.ok) return decoded
  const planned = planEvent(decoded.event)
  if (!planned.ok) return planned
  return { ok: true, event: decoded.event, plan: planned.plan }
}
