import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** The time (Unix ms) plans are read and activated at: Date.now, or the clock a test gives the app. */
    now: () => number
  }
}

/** The service's clock, as `fastify.now()`: tests give the app their own (AppOptions.now) instead of sleeping. */
export default fp<{ now?: () => number }>(async (fastify, { now }) => {
  fastify.decorate('now', now ?? Date.now)
}, { name: 'clock' })
