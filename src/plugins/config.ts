import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/**
 * Makes the validated configuration available as `fastify.config`. With no API key configured, a
 * development run gets a random key (logged once, so that curl can use it); production refuses to start.
 */
export default fp<{ config: Config }>(async (fastify, { config }) => {
  let apiKeys = config.API_KEYS
  if (apiKeys.length === 0) {
    if (config.NODE_ENV === 'production') {
      throw new Error('API_KEYS is empty: set at least one key (NODE_ENV=production never runs without one)')
    }
    apiKeys = [randomBytes(24).toString('base64url')]
    fastify.log.warn({ apiKey: apiKeys[0], header: config.API_KEY_HEADER },
      'API_KEYS is not set: generated a key for this run only; set API_KEYS before exposing this service')
  }
  fastify.decorate('config', { ...config, API_KEYS: apiKeys })
}, { name: 'config' })
