import fp from 'fastify-plugin'
import { ReconcileStore } from '../db/reconcile-store.js'
import { reconcilerFor } from '../reconcile/from-config.js'
import type { Reconciler } from '../reconcile/reconciler.js'
import { ReconcileScheduler } from '../reconcile/scheduler.js'

declare module 'fastify' {
  interface FastifyInstance {
    reconcileStore: ReconcileStore
    /** Present when SaaSus credentials are configured. */
    reconciler: Reconciler | undefined
  }
}

/** While no run has ever succeeded and no interval is set, try again this often. */
const RETRY_MS = 5 * 60_000

/**
 * Reconciliation in the service: the run records (always, for GET /reconcile/runs) and, with SaaSus
 * credentials, the scheduler: a first run soon after start on a database never reconciled, then every
 * RECONCILE_INTERVAL. Closing the app stops a run in progress at its next chunk.
 */
export default fp(async (fastify) => {
  const store = new ReconcileStore(fastify.repository)
  const log = fastify.log.child({ component: 'reconcile' })
  const reconciler = reconcilerFor(fastify.config, fastify.repository, log, result => { fastify.metrics.reconcileFinished(result) }, fastify.now)
  fastify.decorate('reconcileStore', store)
  fastify.decorate('reconciler', reconciler)
  if (reconciler === undefined) return
  const scheduler = new ReconcileScheduler(reconciler, store, {
    intervalMs: fastify.config.RECONCILE_INTERVAL,
    startDelayMs: fastify.config.RECONCILE_START_DELAY_MS,
    retryMs: RETRY_MS,
    log
  })
  fastify.addHook('onReady', async () => { scheduler.start() })
  fastify.addHook('onClose', async () => { await scheduler.stop() })
}, { name: 'reconcile', dependencies: ['config', 'clock', 'database', 'metrics'] })
