import type { Repository } from '../../src/db/repository.js'
import { ReconcileStore } from '../../src/db/reconcile-store.js'
import { Reconciler, type ReconcilerOptions } from '../../src/reconcile/reconciler.js'
import { SaasusClient } from '../../src/saasus/client.js'
import { SAASUS } from './saasus.js'

const quiet = { info: () => {}, warn: () => {} }

/**
 * A reconciler of a test's copy against the stand-in at `url`: no retries, no answer cap, small chunks, the
 * snapshot dated now (marginMs 0), a quiet log; `options` changes any of it (`store`, e.g. one that fails).
 */
export function testReconciler (url: string, repository: Repository, options: Partial<ReconcilerOptions> = {}): Reconciler {
  return new Reconciler({
    client: new SaasusClient({ baseUrl: url, credentials: SAASUS, timeoutMs: 5000, retries: 0, maxRetryDelayMs: 0, maxAnswerBytes: 1 << 30 }),
    store: new ReconcileStore(repository),
    marginMs: 0,
    chunkSize: 1,
    chunkTargetMs: 25,
    analyzeEveryMs: 60_000,
    chunkTimeoutMs: 30_000,
    leaseMs: 60_000,
    log: quiet,
    ...options
  })
}
