import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { built } from './built.js'

// The receiver with its change feed switched off (Repository's `feed: false`): event batches record no feed
// entries and take no feed lock. Only to say what the feed costs (issue 16), next to the receiver as it runs.
// Started by bench/run.ts with the same flags and environment as the real receiver, on the compiled app.

const { default: app, serverOptions }: typeof import('../src/app.js') = await import(built('app.js'))
const { loadConfig }: typeof import('../src/config.js') = await import(built('config.js'))

const config = loadConfig()
const server = Fastify(serverOptions(config))
await server.register(fp(app), { config })
await server.ready()
server.repository.limits.feed = false
await server.listen({ host: config.HOST, port: config.PORT })
process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)) })
