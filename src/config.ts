import { Type, type Static } from '@sinclair/typebox'
import envSchema from 'env-schema'
import { postgresqlTarget } from './postgresql-url.js'

/** A duration: a whole number with a unit (s, m, h or d), or `off` / `0` for none. */
const DURATION = '^(off|0|[1-9][0-9]{0,6}[smhd])$'
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds of a DURATION (0 for `off`). */
export function durationMs (value: string): number {
  const match = /^([0-9]+)([smhd])$/.exec(value)
  return match === null ? 0 : Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
}

/** Every setting, read from the environment (and `.env` when present) and validated at start. */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  DATABASE_URL: Type.String({ pattern: '^(file:|postgres://|postgresql://).+', default: 'file:./data/receiver.db' }),
  API_KEYS: Type.String({ default: '' }),
  API_KEY_HEADER: Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', maxLength: 512, default: 'x-api-key' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 2 * 1024 * 1024 }),
  // Bounded work per request (issue 18): items per batch, time to receive a whole request, clock skew.
  BATCH_MAX_ITEMS: Type.Integer({ minimum: 1, maximum: 10000, default: 1000 }),
  // Bounded reads (issue 25): bytes of a page of /changes, /tenants, /users (after its first item).
  PAGE_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 1024 * 1024 }),
  // Reads at once, and waiting (then 503); an answer the client does not read is cut off after REPLY_TIMEOUT_MS.
  READ_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 4 }),
  READ_QUEUE_MAX: Type.Integer({ minimum: 0, maximum: 100000, default: 1000 }),
  // Long polls waiting at once (each holds its connection and request: about 24 KB); beyond, 503.
  LONG_POLL_MAX: Type.Integer({ minimum: 0, maximum: 1000000, default: 4000 }),
  REPLY_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 30000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 6000 }),
  MAX_FUTURE_SKEW_MS: Type.Integer({ minimum: 0, maximum: 31 * 86400000, default: 15 * 60000 }),
  QUARANTINE_MAX_ROWS: Type.Integer({ minimum: 1, maximum: 100000000, default: 10000 }),
  QUARANTINE_MAX_BYTES: Type.Integer({ minimum: 1024, default: 100 * 1024 * 1024 }),
  SQLITE_SYNCHRONOUS: Type.Union(['OFF', 'NORMAL', 'FULL', 'EXTRA'].map(l => Type.Literal(l)), { default: 'FULL' }),
  SQLITE_BUSY_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 2000 }),
  // Checkpoint the WAL while the writer is idle, once this many events were written (0: SQLite's own only).
  SQLITE_CHECKPOINT_EVENTS: Type.Integer({ minimum: 0, maximum: 100000, default: 16 }),
  TRANSACTION_MAX_WAIT_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
  TRANSACTION_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 3000 }),
  BATCH_MAX_EVENTS: Type.Integer({ minimum: 1, maximum: 1000, default: 64 }),
  // 0: no extra wait; what arrives while a batch is written forms the next one (see Batcher).
  BATCH_MAX_WAIT_MS: Type.Integer({ minimum: 0, maximum: 1000, default: 0 }),
  // 0: one batch at a time on SQLite (one writer anyway); up to 4 on PostgreSQL, within the pool.
  BATCH_CONCURRENCY: Type.Integer({ minimum: 0, maximum: 100, default: 0 }),
  RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 5 }),
  PG_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  PG_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 3000 }),
  DB_RETRY_ATTEMPTS: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
  // Operations (issue 6).
  METRICS_TOKEN: Type.String({ default: '' }),
  REQUEST_DEADLINE_MS: Type.Integer({ minimum: 1, maximum: 60000, default: 4500 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 1, maximum: 1000000, default: 20 }),
  AUTH_FAILURE_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000 }),
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000 }),
  PRESSURE_MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  PRESSURE_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
  // Reconciliation with SaaSus's Auth API (issue 13): the names SaaSus's own SDKs read.
  SAASUS_SAAS_ID: Type.String({ default: '' }),
  SAASUS_API_KEY: Type.String({ default: '' }),
  SAASUS_SECRET_KEY: Type.String({ default: '' }),
  SAASUS_API_URL_BASE: Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$', default: 'https://api.saasus.io' }),
  SAASUS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 30000 }),
  SAASUS_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
  RECONCILE_INTERVAL: Type.String({ pattern: DURATION, default: 'off' }),
  RECONCILE_MARGIN: Type.String({ pattern: DURATION, default: '60s' }),
  RECONCILE_START_DELAY_MS: Type.Integer({ minimum: 0, maximum: 86400000, default: 10000 }),
  RECONCILE_CHUNK_SIZE: Type.Integer({ minimum: 1, maximum: 10000, default: 1000 }),
  RECONCILE_SYNCHRONOUS_COMMIT: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  // What a SaaSus answer may do (issue 25): its size, and the share of the copy a run may delete.
  RECONCILE_MAX_ANSWER_BYTES: Type.Integer({ minimum: 1024, maximum: 2 ** 31, default: 128 * 1024 * 1024 }),
  RECONCILE_MAX_DELETE_FRACTION: Type.Number({ minimum: 0, maximum: 1, default: 0.25 }),
  RECONCILE_MASS_DELETE_MIN_ROWS: Type.Integer({ minimum: 0, maximum: 100000000, default: 10 }),
  // The operator console under /console (issue 15): off while CONSOLE_PASSWORD is empty.
  CONSOLE_PASSWORD: Type.String({ default: '' }),
  CONSOLE_SECURE_COOKIE: Type.Boolean({ default: false }),
  CONSOLE_SESSION_TTL: Type.String({ pattern: '^[1-9][0-9]{0,6}[smhd]$', default: '8h' }),
  // Failed sign-ins make the next attempts from their source wait, up to this long (issue 25).
  CONSOLE_SIGN_IN_MAX_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 10000 })
})

export type RawConfig = Static<typeof ConfigSchema>

export interface Config extends Omit<RawConfig, 'API_KEYS' | 'LOG_LEVEL' | 'SQLITE_SYNCHRONOUS' | 'RECONCILE_INTERVAL' | 'RECONCILE_MARGIN' | 'CONSOLE_SESSION_TTL'> {
  /** How long a console session lasts after sign-in, in ms. */
  CONSOLE_SESSION_TTL: number
  /** Between scheduled reconciliations, in ms; 0 is off. */
  RECONCILE_INTERVAL: number
  /** Subtracted from a snapshot's start time to give its version, in ms. */
  RECONCILE_MARGIN: number
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  SQLITE_SYNCHRONOUS: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'
  /** Every key accepted at once: more than one while a key is being rotated. */
  API_KEYS: string[]
}

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

/** A key shorter than this is too easy to guess for a public endpoint. */
export const MIN_API_KEY_LENGTH = 16

/**
 * Reads and validates the configuration. `data` replaces the process environment (tests pass their own);
 * `.env` is read only for the real environment. Throws ConfigError naming every bad value.
 */
export function loadConfig (data?: Record<string, unknown>): Config {
  let raw: RawConfig
  try {
    raw = envSchema<RawConfig>({
      schema: ConfigSchema,
      data: data ?? process.env,
      env: false,
      dotenv: data === undefined
    })
  } catch (err) {
    const errors = (err as { errors?: Array<{ instancePath: string, message?: string }> }).errors
    if (errors === undefined) throw err
    throw new ConfigError(errors.map(e => `${e.instancePath.replace(/^\//, '')} ${e.message ?? 'is invalid'}`))
  }
  const keys = raw.API_KEYS.split(',').map(k => k.trim()).filter(k => k !== '')
  const short = keys.filter(k => k.length < MIN_API_KEY_LENGTH)
  if (short.length > 0) {
    throw new ConfigError([`API_KEYS: ${short.length} key(s) shorter than ${MIN_API_KEY_LENGTH} characters; use long random secrets`])
  }
  if (keys.some(k => k.length > 512)) throw new ConfigError(['API_KEYS: a key is longer than 512 characters (EventBridge\'s limit)'])
  if (!raw.DATABASE_URL.startsWith('file:')) {
    try { postgresqlTarget(raw.DATABASE_URL) } catch (err) { throw new ConfigError([(err as Error).message]) }
  }
  if (raw.METRICS_TOKEN !== '' && raw.METRICS_TOKEN.length < MIN_API_KEY_LENGTH) {
    throw new ConfigError([`METRICS_TOKEN: shorter than ${MIN_API_KEY_LENGTH} characters; use a long random secret or leave it empty`])
  }
  if (raw.CONSOLE_PASSWORD !== '' && raw.CONSOLE_PASSWORD.length < MIN_API_KEY_LENGTH) {
    throw new ConfigError([`CONSOLE_PASSWORD: shorter than ${MIN_API_KEY_LENGTH} characters; use a long random secret or leave it empty (console off)`])
  }
  const credentials = ['SAASUS_SAAS_ID', 'SAASUS_API_KEY', 'SAASUS_SECRET_KEY'] as const
  const missing = credentials.filter(name => raw[name] === '')
  if (missing.length > 0 && missing.length < credentials.length) {
    throw new ConfigError([`${missing.join(', ')}: missing; set SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY together, or none of them`])
  }
  const interval = durationMs(raw.RECONCILE_INTERVAL)
  if (interval > 0 && missing.length > 0) {
    throw new ConfigError(['RECONCILE_INTERVAL: needs SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY'])
  }
  return { ...raw, API_KEYS: keys, RECONCILE_INTERVAL: interval, RECONCILE_MARGIN: durationMs(raw.RECONCILE_MARGIN), CONSOLE_SESSION_TTL: durationMs(raw.CONSOLE_SESSION_TTL) } as Config
}
