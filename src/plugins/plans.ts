import fp from 'fastify-plugin'
import { PlanActivations } from '../db/plan-activations.js'
import { PlanActivator } from '../plans/activator.js'

declare module 'fastify' {
  interface FastifyInstance {
    planActivator: PlanActivator
  }
}

/** Reserved plans are recorded as taken effect within this long of their instant (at it, when known here). */
export const PLAN_POLL_MS = 10_000

/**
 * The plan activator (src/plans/activator.ts): from ready, records reserved plans taking effect (those that
 * fell due while the service was down first); stopped when the app closes.
 */
export default fp(async (fastify) => {
  const activator = new PlanActivator(new PlanActivations(fastify.repository), {
    now: fastify.now,
    pollMs: PLAN_POLL_MS,
    log: fastify.log.child({ component: 'plans' })
  })
  fastify.decorate('planActivator', activator)
  // A reservation written through this process: look at its instant rather than at the next poll.
  fastify.repository.onFeed(write => { if (write.planDueAt !== undefined) activator.wake(write.planDueAt) })
  fastify.addHook('onReady', async () => { activator.start() })
  fastify.addHook('onClose', async () => { await activator.stop() })
}, { name: 'plans', dependencies: ['clock', 'database'] })
