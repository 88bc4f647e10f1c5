import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { built } from './built.js'

// The compiled receiver (dist/app.js) built as src/server.ts builds it, with `adjust` applied before it
// listens: for the bench's variants of the receiver (bench/ceiling.ts, bench/feed-off.ts). Started by
// bench/run.ts with the same flags and environment as the real receiver.

export async function startBuiltServer (adjust: (server: FastifyInstance) => void): Promise<void> {
  const { default: app, serverOptions }: typeof import('../src/app.js') = await import(built('app.js'))
  const { loadConfig }: typeof import('../src/config.js') = await import(built('config.js'))
  const config = loadConfig()
  const server = Fastify(serverOptions(config))
  await server.register(fp(app), { config })
  await server.ready()
  adjust(server)
  await server.listen({ host: config.HOST, port: config.PORT })
  process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)) })
}
