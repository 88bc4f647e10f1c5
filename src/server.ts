import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import fp from 'fastify-plugin'
import app, { serverOptions } from './app.js'
import { ConfigError, loadConfig } from './config.js'

// Starts the receiver on a port. Everything else lives in app.ts.

let config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exit(1)
}

const server = Fastify(serverOptions(config))

// Stop accepting, let in-flight requests commit and answer, close the database; exit 1 if that takes
// longer than SHUTDOWN_TIMEOUT_MS.
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'server closing with error')
  else server.log.info({ signal }, 'server closing')
  await server.close()
})

try {
  await server.register(fp(app), { config })
  await server.listen({ host: config.HOST, port: config.PORT })
} catch (err) {
  server.log.error({ err }, 'could not start')
  process.exit(1)
}
