import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { built } from './built.js'

// The receiver with its database write taken out: what the HTTP layer, authentication, validation, decoding,
// redaction, planning, metrics and the other hooks cost on their own. Every event is answered `applied`
// without being written, so this is a ceiling for the receiver's throughput, not a way to run it.
// Started by bench/run.ts with the same flags and environment as the real receiver, on the compiled app in
// dist/ (a SQLite database is still opened and migrated, as at every start).

const { default: app, serverOptions }: typeof import('../src/app.js') = await import(built('app.js'))
const { loadConfig }: typeof import('../src/config.js') = await import(built('config.js'))

const config = loadConfig()
const server = Fastify(serverOptions(config))
await server.register(fp(app), { config })
await server.ready()
server.repository.record = async () => 'applied'
await server.listen({ host: config.HOST, port: config.PORT })
process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)) })
