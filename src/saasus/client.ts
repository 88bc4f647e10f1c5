import { setTimeout as sleep } from 'node:timers/promises'
import type { Static, TSchema } from '@sinclair/typebox'
import { Checker } from '../events/checker.js'
import { authorization, type SaasusCredentials } from './signature.js'

// A small signed client for the SaaSus Auth API: GET only (what a snapshot needs), a time-out per request,
// bounded retries of 429 and 5xx (honouring Retry-After) and of network failures, and every answer
// validated. Errors name the request and the credentials' variables, never the secret key or the API key.

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

/** SaaSus's error body, shortened: its type and message, if it has them. */
function reason (body: string): string {
  try {
    const parsed = JSON.parse(body) as { type?: unknown, message?: unknown }
    const parts = [parsed.type, parsed.message].filter(p => typeof p === 'string')
    return parts.length > 0 ? `: ${parts.join(' ').slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

export class SaasusClient {
  readonly #options: SaasusClientOptions
  readonly #checkers = new Map<TSchema, Checker<TSchema>>()

  constructor (options: SaasusClientOptions) {
    this.#options = options
  }

  /** GET `path` (under /v1/auth) and validate the answer against `schema`; throws SaasusApiError. */
  async get<S extends TSchema> (path: string, schema: S): Promise<Static<S>> {
    const url = new URL(`${this.#options.baseUrl.replace(/\/+$/, '')}/v1/auth${path}`)
    const name = `GET /v1/auth${path}`
    for (let attempt = 0; ; attempt++) {
      let failure: SaasusApiError
      let pause = backoffMs(attempt)
      try {
        return await this.#once(url, name, schema)
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

  async #once<S extends TSchema> (url: URL, name: string, schema: S): Promise<Static<S>> {
    const now = this.#options.now?.() ?? new Date()
    let status: number
    let text: string
    let retryAfter: string | null
    try {
      const response = await fetch(url, {
        headers: { Authorization: authorization(this.#options.credentials, 'GET', url, '', now), Accept: 'application/json' },
        signal: AbortSignal.timeout(this.#options.timeoutMs)
      })
      status = response.status
      retryAfter = response.headers.get('retry-after')
      text = await response.text()
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError'
      throw new Retry(new SaasusApiError(timedOut
        ? `${name}: no complete answer within ${this.#options.timeoutMs} ms`
        : `${name}: ${(err as Error).message}`, true))
    }
    if (status === 401 || status === 403) {
      throw new SaasusApiError(`${name}: SaaSus refused the credentials (HTTP ${status}${reason(text)}); ` +
        `check SAASUS_SAAS_ID (${this.#options.credentials.saasId}), SAASUS_API_KEY and SAASUS_SECRET_KEY`, false)
    }
    if (status === 429 || status >= 500) {
      throw new Retry(new SaasusApiError(`${name}: HTTP ${status}${reason(text)}`, true), retryAfterMs(retryAfter))
    }
    if (status < 200 || status >= 300) throw new SaasusApiError(`${name}: HTTP ${status}${reason(text)}`, false)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new SaasusApiError(`${name}: the answer is not JSON`, false)
    }
    let checker = this.#checkers.get(schema)
    if (checker === undefined) {
      checker = new Checker(schema)
      this.#checkers.set(schema, checker)
    }
    const checked = checker.check(body, '')
    if (!checked.ok) throw new SaasusApiError(`${name}: malformed answer at ${checked.problem.field || '/'}: ${checked.problem.message}`, false)
    return checked.value as Static<S>
  }
}

/** A failure worth another attempt, with the server's requested pause. */
class Retry extends Error {
  constructor (readonly error: SaasusApiError, readonly afterMs?: number) {
    super(error.message)
  }
}
