import Fastify from 'fastify'

// The yardstick: a bare Fastify route that parses the same JSON body and answers 200.
const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 })
app.post('/events', async (request) => {
  const body = request.body as { id?: string }
  return { results: [{ id: body.id ?? null, outcome: 'applied' }] }
})
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`listening ${address}\n`)
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
