import { Envelope } from '../schemas/envelope.js'
import { SaasusEvent } from '../schemas/saasus-event.js'
import { Checker, type ValidationProblem } from './checker.js'
import { matchOperation, type Operation } from './operations.js'
import { makeVersion, type Version } from './version.js'
import { withoutSecrets } from './secret-fields.js'
import { jsonProblem, tooManyValues, type ValueBudget } from './json-value.js'
import { scanJson } from './json-scan.js'
import { instantProblem } from './instant.js'

/** One EventBridge event, validated, with its double-encoded JSON decoded. Pure data: no I/O. */
export interface DecodedEvent {
  id: string
  eventType: string
  time: Date
  version: Version
  traceId: string | null
  logId: string
  httpStatus: number
  uri: string
  method: string
  requestBody: unknown
  responseBody: unknown
  /** The API call this event records, or undefined when this version does not know it. */
  operation: Operation | undefined
  /** The whole event with inner JSON decoded and SaaSus's secret fields redacted: what is stored and may be shown. */
  redacted: unknown
}

export type Decoded = { ok: true, event: DecodedEvent } | { ok: false, problem: ValidationProblem }

const envelopeChecker = new Checker(Envelope)
const saasusEventChecker = new Checker(SaasusEvent)

class JsonFieldError extends Error {
  constructor (message: string, readonly syntax = true) {
    super(message)
  }
}

/** The message for what decodeJsonField threw (only ever a JsonFieldError). */
function jsonFieldProblem (err: unknown): string {
  const { syntax, message } = err as JsonFieldError
  return syntax ? `is not valid JSON: ${message}` : message
}

/**
 * A field that SaaSus may send as a JSON string or as the object itself. An empty string means no body.
 * JSON.parse makes `__proto__` an own property, never a prototype; jsonProblem then refuses it. A JSON
 * string long enough to hold more values than `budget` has left is counted from its text before it is
 * parsed (its values are added to the budget when the parsed value is checked).
 */
function decodeJsonField (value: unknown, budget: ValueBudget | undefined): unknown {
  if (typeof value !== 'string') return value
  if (value.trim() === '') return null
  // n values take at least 2n - 1 characters ("1,1"): a shorter text cannot exceed the budget. Counted
  // only (no item spans kept: a million of them took 0.4-0.9 s to build).
  if (budget !== undefined && (value.length + 1) / 2 > budget.max - budget.used &&
    budget.used + scanJson(Buffer.from(value), 0).values > budget.max) throw new JsonFieldError(tooManyValues(budget.max), false)
  try {
    return JSON.parse(value)
  } catch (err) {
    throw new JsonFieldError((err as Error).message)
  }
}

function fail (field: string, message: string): Decoded {
  return { ok: false, problem: { field, message } }
}

/**
 * A refusal for what no event may hold (checked before any recursive code sees it): nesting too deep,
 * `__proto__`, numbers beyond JSON's range, strings that cannot be stored exactly. Undefined when none.
 */
function valueProblem (value: unknown, base: string, budget?: ValueBudget): Decoded | undefined {
  const problem = jsonProblem(value, base, undefined, budget)
  return problem === undefined ? undefined : fail(problem.field, problem.message)
}

/** The clock an event's `time` is checked against; without it (rebuilds of stored events) there is no check. */
export interface Clock {
  /** This host's time, in ms since the epoch. */
  now: number
  /** How far ahead of `now` an event's time may be. */
  maxFutureSkewMs: number
}

/**
 * Validates one event (a parsed JSON value) and decodes its nested JSON strings. With `maxValues` (intake;
 * not rebuilds of stored events), an event holding more values than that, with those of its nested JSON,
 * is refused.
 */
export function decodeEvent (body: unknown, clock?: Clock, maxValues?: number): Decoded {
  const budget = maxValues === undefined ? undefined : { max: maxValues, used: 0 }
  const unsafe = valueProblem(body, '', budget)
  if (unsafe !== undefined) return unsafe
  const envelope = envelopeChecker.check(body, '')
  if (!envelope.ok) return { ok: false, problem: envelope.problem }
  const env = envelope.value

  const badTime = instantProblem(env.time)
  if (badTime !== undefined) return fail('/time', badTime)
  const timeMs = Date.parse(env.time)
  if (timeMs < 0) return fail('/time', 'must be a valid instant after 1970')
  // One event dated far ahead would win against every real change to its entity, forever.
  if (clock !== undefined && timeMs > clock.now + clock.maxFutureSkewMs) {
    return fail('/time', `is ${Math.round((timeMs - clock.now) / 1000)} s ahead of this host's clock (more than MAX_FUTURE_SKEW_MS, ${clock.maxFutureSkewMs} ms): refused, not applied`)
  }

  let inner: unknown
  try {
    inner = decodeJsonField(env.detail.event, budget)
  } catch (err) {
    return fail('/detail/event', jsonFieldProblem(err))
  }
  // Sent as an object, its values were counted with the envelope's.
  const unsafeInner = valueProblem(inner, '/detail/event', typeof env.detail.event === 'string' ? budget : undefined)
  if (unsafeInner !== undefined) return unsafeInner
  const checked = saasusEventChecker.check(inner, '/detail/event')
  if (!checked.ok) return { ok: false, problem: checked.problem }
  const call = checked.value

  const bodies: Record<'request_body' | 'response_body', unknown> = { request_body: null, response_body: null }
  for (const key of ['request_body', 'response_body'] as const) {
    try {
      bodies[key] = decodeJsonField(call[key] ?? null, budget)
    } catch (err) {
      return fail(`/detail/event/${key}`, jsonFieldProblem(err))
    }
    const unsafeBody = valueProblem(bodies[key], `/detail/event/${key}`, typeof call[key] === 'string' ? budget : undefined)
    if (unsafeBody !== undefined) return unsafeBody
  }

  const method = call.request_method.toUpperCase()
  const redacted = withoutSecrets({
    ...env,
    detail: { ...env.detail, event: { ...call, ...bodies } }
  })

  return {
    ok: true,
    event: {
      id: env.id,
      eventType: env.detail.event_type,
      time: new Date(timeMs),
      version: makeVersion(timeMs, method, env.id),
      traceId: env.detail.trace_id ?? null,
      logId: call.log_id,
      httpStatus: Number(call.http_status),
      uri: call.uri,
      method,
      requestBody: bodies.request_body,
      responseBody: bodies.response_body,
      operation: matchOperation(method, call.uri),
      redacted
    }
  }
}
