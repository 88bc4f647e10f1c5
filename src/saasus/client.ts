import { setTimeout as sleep } from 'node:timers/promises'
import { JSONParser } from '@streamparser/json'
import { request, type Dispatcher } from 'undici'
import type { Static, TSchema } from '@sinclair/typebox'
import { Checker, type ValidationProblem } from '../events/checker.js'
import { jsonProblem, MAX_DEPTH, MAX_EVENT_VALUES } from '../events/json-value.js'
import { WorkSlice } from '../work-slice.js'
import { redactCredentials } from './redact.js'
import { authorization, type SaasusCredentials } from './signature.js'

// A small signed client for the SaaSus Auth API: GET only (what a snapshot needs), a time-out per request,
// bounded retries of 429 and 5xx (honouring Retry-After) and of network failures, and every answer
// validated. Errors name the request and the credentials' variables, never the secret key or the API key.
// A list answer is parsed as it streams in (@streamparser/json) and each item validated as it completes,
// yielding to the event loop every few milliseconds: one JSON.parse of a 40 MB answer would stall the
// service's event intake for about a second.
// What comes back is not trusted: an answer larger than maxAnswerBytes, or holding a string longer than
// MAX_STRING_BYTES, is refused as soon as it crosses the limit (the rest is never read); redirects are never
// followed (a 3xx is a failure: another host's data must never pass for SaaSus's); error text is kept only
// after removing anything that looks like a credential (redact.ts).

export interface SaasusClientOptions {
  /** e.g. https://api.saasus.io; the Auth API is under /v1/auth. */
  baseUrl: string
  credentials: SaasusCredentials
  /** Longest time for one request, answer body included (ms). */
  timeoutMs: number
  /** Retries after a 429, a 5xx, a time-out or a network failure. */
  retries: number
  /** Longest pause before a retry, whatever Retry-After asks (ms). */
  maxRetryDelayMs: number
  /** Largest answer body read (bytes): RECONCILE_MAX_ANSWER_BYTES. */
  maxAnswerBytes: number
  /** Clock for signatures (tests). */
  now?: () => Date
}

/** Why a call failed. `retryable` is false for refused credentials and malformed answers. */
export class SaasusApiError extends Error {
  override name = 'SaasusApiError'
  constructor (message: string, readonly retryable: boolean) {
    super(message)
  }
}

/** Base pause before retry n (0-based): about 0.5, 1, 2 s, jittered. */
const backoffMs = (n: number): number => Math.round(500 * 2 ** n * (0.5 + Math.random()))

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs (header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** SaaSus's error body, shortened: its type and message, if it has them, credentials cut out before shortening. */
function reason (body: string, credentials: SaasusCredentials): string {
  try {
    const parsed = JSON.parse(body) as { type?: unknown, message?: unknown }
    const parts = [parsed.type, parsed.message].filter(p => typeof p === 'string')
    return parts.length > 0 ? `: ${redactCredentials(parts.join(' '), credentials).slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

/** Most bytes of an error answer read (its type and message are short; the rest is dropped unread). */
const MAX_ERROR_BYTES = 64 * 1024
/**
 * Longest string (or key) an answer may hold, in bytes as sent: ids are at most 256 characters, and any other
 * value reached SaaSus through requests of a few kilobytes. A longer one is refused when it crosses the
 * limit, so that a huge string, even in a field nobody reads, is never held whole.
 */
export const MAX_STRING_BYTES = 4 * 1024 * 1024

/** An answer's body as undici's request gives it: a Node stream of Buffers, read at the pace it is consumed. */
type Body = Dispatcher.ResponseData['body']

/** Whatever of `body` was not read is never read: its connection is closed, not drained (the abort it reports is expected). */
function discard (body: Body): void {
  body.on('error', () => {})
  body.destroy()
}

/** A network failure's message, with its cause's code where undici names one (e.g. ECONNREFUSED). */
function networkMessage (err: unknown): string {
  const { message, code } = err as { message: string, code?: unknown }
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message
}

/** The first `max` bytes of a body as text; the rest is not read (the stream is destroyed). */
async function textUpTo (body: Body, max: number): Promise<string> {
  const pieces: Uint8Array[] = []
  let size = 0
  for await (const chunk of body) {
    pieces.push(chunk)
    size += chunk.length
    if (size >= max) break
  }
  return Buffer.concat(pieces).subarray(0, max).toString('utf8')
}

/** Follows the JSON strings of a byte stream across pieces and measures the one in progress. */
class StringScanner {
  #inString = false
  #escaped = false
  #length = 0

  /** False as soon as a string of `piece` (or begun before it) is longer than `max` bytes. */
  scan (piece: Uint8Array, max: number): boolean {
    for (let i = 0; i < piece.length; i++) {
      const byte = piece[i]
      if (!this.#inString) {
        if (byte === 0x22) { this.#inString = true; this.#length = 0 }
      } else if (this.#escaped) {
        this.#escaped = false
        this.#length++
      } else if (byte === 0x22) {
        this.#inString = false
      } else {
        if (byte === 0x5c) this.#escaped = true
        if (++this.#length > max) return false
      }
    }
    return true
  }
}

/** Longest stretch of parsing and validating before the event loop gets a turn (ms). */
const SLICE_MS = 1
/** Bytes handed to the parser at a time, so that a slice cannot run long on one network chunk. */
const PIECE_BYTES = 4096

export class SaasusClient {
  readonly #options: SaasusClientOptions
  readonly #checkers = new Map<TSchema, Checker<TSchema>>()

  constructor (options: SaasusClientOptions) {
    this.#options = options
  }

  /**
   * GET `path` (under /v1/auth), whose answer is an object holding the array `field`, and the array's items,
   * each validated against `item` (unknown fields kept); throws SaasusApiError. An item this service cannot
   * take (nested deeper than MAX_DEPTH, more values than MAX_EVENT_VALUES, as events; or refused by `item`)
   * is passed to `refuse` and left out, when it is given; without it, it fails the call.
   */
  async list<S extends TSchema> (path: string, field: string, item: S, refuse?: (problem: ValidationProblem, item: unknown) => void): Promise<Array<Static<S>>> {
    const url = new URL(`${this.#options.baseUrl.replace(/\/+$/, '')}/v1/auth${path}`)
    const name = `GET /v1/auth${path}`
    for (let attempt = 0; ; attempt++) {
      let failure: SaasusApiError
      let pause = backoffMs(attempt)
      try {
        return await this.#once(url, name, async body => await this.#items(body, name, field, this.#checker(item), refuse))
      } catch (err) {
        if (!(err instanceof Retry)) throw err
        failure = err.error
        pause = Math.min(this.#options.maxRetryDelayMs, err.afterMs ?? pause)
      }
      if (attempt >= this.#options.retries) {
        throw new SaasusApiError(`${failure.message} (after ${attempt + 1} attempts)`, true)
      }
      await sleep(pause)
    }
  }

  #checker<S extends TSchema> (schema: S): Checker<S> {
    let checker = this.#checkers.get(schema)
    if (checker === undefined) {
      checker = new Checker(schema)
      this.#checkers.set(schema, checker)
    }
    return checker as Checker<S>
  }

  /**
   * One attempt: status handling, then `read` of the body of a 2xx answer. However it ends, the request is
   * aborted afterwards: an answer left unread (too large, refused, a redirect) closes its connection rather than
   * keeping it open, paused, in the pool.
   */
  async #once<T> (url: URL, name: string, read: (body: Body) => Promise<T>): Promise<T> {
    const request = new AbortController()
    // One controller for both ends (AbortSignal.any of Node 20 can drop a timeout signal it combines).
    const timer = setTimeout(() => { request.abort(new DOMException('time-out', 'TimeoutError')) }, this.#options.timeoutMs)
    try {
      return await this.#exchange(url, name, read, request.signal)
    } finally {
      clearTimeout(timer)
      request.abort()
    }
  }

  async #exchange<T> (url: URL, name: string, read: (body: Body) => Promise<T>, signal: AbortSignal): Promise<T> {
    const now = this.#options.now?.() ?? new Date()
    const networkFailure = (err: unknown): Retry => new Retry(new SaasusApiError((err as Error).name === 'TimeoutError'
      ? `${name}: no complete answer within ${this.#options.timeoutMs} ms`
      : `${name}: ${networkMessage(err)}`, true))
    let response: Dispatcher.ResponseData
    try {
      // undici's request, not fetch: fetch's body stream reads the socket ahead of its reader, so an answer
      // arriving in small pieces faster than it is parsed piled up in memory (+400 MB for 32 MiB read) and
      // was read slower and slower (78 s for 32 MiB, against 2.5 s here). A redirect is answered as it is
      // (below), never followed (maxRedirections 0).
      response = await request(url, {
        method: 'GET',
        headers: { authorization: authorization(this.#options.credentials, 'GET', url, '', now), accept: 'application/json' },
        signal,
        maxRedirections: 0
      })
    } catch (err) {
      throw networkFailure(err)
    }
    const { statusCode: status, headers, body } = response
    const header = (name: string): string | null => { const v = headers[name]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v }
    const { credentials, maxAnswerBytes } = this.#options
    if (status >= 300 && status < 400) {
      discard(body)
      throw new SaasusApiError(`${name}: HTTP ${status}, a redirect${redirectTarget(header('location'), url)}, which is not followed: ` +
        'nothing from another address is applied; check SAASUS_API_URL_BASE', false)
    }
    if (status < 200 || status >= 300) {
      let text: string
      try {
        text = await textUpTo(body, MAX_ERROR_BYTES)
      } catch (err) {
        throw networkFailure(err)
      }
      if (status === 401 || status === 403) {
        throw new SaasusApiError(`${name}: SaaSus refused the credentials (HTTP ${status}${reason(text, credentials)}); ` +
          `check SAASUS_SAAS_ID (${credentials.saasId}), SAASUS_API_KEY and SAASUS_SECRET_KEY`, false)
      }
      if (status === 429 || status >= 500) {
        throw new Retry(new SaasusApiError(`${name}: HTTP ${status}${reason(text, credentials)}`, true), retryAfterMs(header('retry-after')))
      }
      throw new SaasusApiError(`${name}: HTTP ${status}${reason(text, credentials)}`, false)
    }
    const declared = Number(header('content-length') ?? 0)
    if (declared > maxAnswerBytes) {
      discard(body)
      throw tooLarge(name, maxAnswerBytes, `it declares ${declared} bytes`)
    }
    try {
      return await read(body)
    } catch (err) {
      if (err instanceof SaasusApiError) throw err
      throw networkFailure(err)
    } finally {
      discard(body)
    }
  }

  /**
   * The items of the array `field` of the streamed answer, each checked as soon as it is complete. Only the
   * items are kept (keepStack: false), and the parse gives the event loop a turn every SLICE_MS.
   */
  async #items<S extends TSchema> (
    body: Body, name: string, field: string, checker: Checker<S>, refuse?: (problem: ValidationProblem, item: unknown) => void
  ): Promise<Array<Static<S>>> {
    const items: Array<Static<S>> = []
    let index = 0
    let container: unknown
    let problem: string | undefined
    const parser = new JSONParser({ paths: [`$.${field}.*`, `$.${field}`], keepStack: false })
    parser.onValue = ({ value, stack }) => {
      if (problem !== undefined) return
      if (stack.length === 1) {
        container = value
        return
      }
      const at = `/${field}/${index++}`
      // The limits events have: deeper or larger values would overflow or stall what follows (checks, storing).
      const limits = jsonProblem(value, at, MAX_DEPTH, { max: MAX_EVENT_VALUES, used: 0 })
      const checked = limits === undefined ? checker.check(value, at) : { ok: false as const, problem: limits }
      if (checked.ok) items.push(checked.value)
      else if (refuse !== undefined) refuse(checked.problem, value)
      else problem = `${checked.problem.field}: ${checked.problem.message}`
    }
    const malformed = (where: string): SaasusApiError => new SaasusApiError(`${name}: malformed answer at ${where}`, false)
    // Whatever the parser throws means the body is not (complete) JSON; errors of the stream are the network's.
    const parse = (step: () => void): void => {
      try {
        step()
      } catch {
        throw new SaasusApiError(`${name}: the answer is not JSON`, false)
      }
      if (problem !== undefined) throw malformed(problem)
    }
    const slice = new WorkSlice(SLICE_MS)
    const strings = new StringScanner()
    const { maxAnswerBytes } = this.#options
    let size = 0
    // Leaving the loop early (a throw) ends the request: the rest of the answer is never read.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxAnswerBytes) throw tooLarge(name, maxAnswerBytes, `stopped reading after ${size} bytes`)
      // Bytes after the end of the document (a trailing newline) are left unread.
      for (let at = 0; at < chunk.length && !parser.isEnded; at += PIECE_BYTES) {
        const piece = chunk.subarray(at, at + PIECE_BYTES)
        if (!strings.scan(piece, MAX_STRING_BYTES)) {
          throw new SaasusApiError(`${name}: malformed answer: a string longer than ${MAX_STRING_BYTES} bytes (stopped reading it)`, false)
        }
        parse(() => parser.write(piece))
        await slice.turn()
      }
    }
    if (!parser.isEnded) parse(() => parser.end())
    if (!Array.isArray(container)) throw malformed(`/${field}: expected an array`)
    return items
  }
}

/** The refusal of an answer larger than RECONCILE_MAX_ANSWER_BYTES. */
const tooLarge = (name: string, max: number, detail: string): SaasusApiError =>
  new SaasusApiError(`${name}: the answer is larger than RECONCILE_MAX_ANSWER_BYTES (${max} bytes): ${detail}`, false)

/** Where a redirect pointed, for the error: only its origin (scheme, host, port), or that it had none usable. */
function redirectTarget (location: string | null, from: URL): string {
  if (location === null) return ' without a Location'
  try {
    return ` to ${new URL(location, from).origin}`
  } catch {
    return ' to an unreadable Location'
  }
}

/** A failure worth another attempt, with the server's requested pause. */
class Retry extends Error {
  constructor (readonly error: SaasusApiError, readonly afterMs?: number) {
    super(error.message)
  }
}
