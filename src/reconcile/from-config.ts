import type { Config } from '../config.js'
import { ReconcileStore } from '../db/reconcile-store.js'
import type { Repository } from '../db/repository.js'
import { SaasusClient } from '../saasus/client.js'
import type { SaasusCredentials } from '../saasus/signature.js'
import { Reconciler, type ReconcileLog, type RunResult } from './reconciler.js'

/**
 * How long a run's lease lasts without renewal. A living run renews it every 5 s (a sixth of it), so a run
 * whose process died is seen as dead (and marked abandoned by the next run) within 30 s.
 */
const LEASE_MS = 30_000
/** Longest pause a Retry-After may impose before the next attempt. */
const MAX_RETRY_DELAY_MS = 60_000
/**
 * Longest transaction of one chunk: far longer than a chunk takes, short enough to notice a stuck one, and
 * shorter than what is left of the lease when a chunk starts (renewals wait while a transaction is open).
 */
const CHUNK_TIMEOUT_MS = 20_000
/**
 * Time budget of one chunk's transaction: about what an ordinary event batch takes, so that an event
 * waiting behind a chunk waits no longer than behind another batch.
 */
const CHUNK_TARGET_MS = 50
/**
 * Longest time between two refreshes of the planner's statistics while a run writes. They follow the
 * growth of the tables (AnalyzeSchedule: whenever a phase has doubled its rows); this is only a backstop,
 * as each refresh of tables of hundreds of thousands of rows costs PostgreSQL 300-450 ms.
 */
const ANALYZE_EVERY_MS = 30_000

/** The SaaSus credentials, when all three are configured (config.ts refuses some without the others). */
export function saasusCredentials (config: Config): SaasusCredentials | undefined {
  if (config.SAASUS_SAAS_ID === '') return undefined
  return { saasId: config.SAASUS_SAAS_ID, apiKey: config.SAASUS_API_KEY, secretKey: config.SAASUS_SECRET_KEY }
}

/** The reconciler the configuration describes, or undefined without SaaSus credentials. */
export function reconcilerFor (config: Config, repository: Repository, log: ReconcileLog, onFinished?: (result: RunResult) => void, now?: () => number): Reconciler | undefined {
  const credentials = saasusCredentials(config)
  if (credentials === undefined) return undefined
  return new Reconciler({
    client: new SaasusClient({
      baseUrl: config.SAASUS_API_URL_BASE,
      credentials,
      timeoutMs: config.SAASUS_TIMEOUT_MS,
      retries: config.SAASUS_RETRIES,
      maxRetryDelayMs: MAX_RETRY_DELAY_MS,
      maxAnswerBytes: config.RECONCILE_MAX_ANSWER_BYTES
    }),
    store: new ReconcileStore(repository, { asyncCommit: config.RECONCILE_SYNCHRONOUS_COMMIT === 'off' }),
    marginMs: config.RECONCILE_MARGIN,
    chunkSize: config.RECONCILE_CHUNK_SIZE,
    chunkTargetMs: CHUNK_TARGET_MS,
    analyzeEveryMs: ANALYZE_EVERY_MS,
    intakeTurn: () => {
      const submitted = repository.eventsSubmitted
      return () => repository.eventsAnswered < submitted
    },
    chunkTimeoutMs: CHUNK_TIMEOUT_MS,
    leaseMs: LEASE_MS,
    maxDelete: { fraction: config.RECONCILE_MAX_DELETE_FRACTION, minRows: config.RECONCILE_MASS_DELETE_MIN_ROWS },
    log,
    onFinished,
    now
  })
}
