import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'

/**
 * The OpenAPI description, generated from the routes' TypeBox schemas. Registered before the routes so
 * that it sees them; served by routes/docs.ts.
 */
export default fp(async (fastify) => {
  await fastify.register(swagger, {
    openapi: {
      info: {
        title: 'saasus-eventbridge-receiver',
        description: 'Receives SaaSus Platform events from Amazon EventBridge API destinations.',
        version: '0.1.0'
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: fastify.config.API_KEY_HEADER }
        }
      },
      security: [{ apiKey: [] }]
    }
  })
}, { name: 'docs', dependencies: ['config'] })
