import Fastify from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { built } from './built.js'

// The naive receiver (issue 17): what a competent developer writes from SaaSus's recipe, as the yardstick
// for the receiver's cost per event. Fastify + TypeBox + Prisma 7 with the better-sqlite3 adapter; per
// event one interactive `$transaction`: insert the inbox row keyed by the envelope id (a repeat fails on
// the primary key and is answered as a duplicate), `findUnique` the tenant, `upsert` it if its stored time
// is older than the event's. WAL and `synchronous=FULL` as the receiver runs them, on the receiver's own
// schema and generated client (the tables are the same; migrations applied as the receiver applies them).
// DATABASE_URL (file:...) and PORT from the environment, as bench/run.ts starts it.
//
// NAIVE_INBOX=lean: the inbox a developer following the recipe would make for herself instead of the
// receiver's `events` table (with the console's indexes and the raw envelope): `lean_inbox` with the envelope
// id as primary key, the event type, time, SaaSus's log_id and when it was received, and no other index,
// written with one tagged INSERT (Prisma's `$executeRaw`: no model of its own in the receiver's schema).

const { PrismaClient }: typeof import('../src/generated/sqlite/client.js') = await import(built('generated/sqlite/client.js'))
const { migrateSqlite }: typeof import('../src/db/engines/sqlite.js') = await import(built('db/engines/sqlite.js'))

const url = process.env.DATABASE_URL!
await migrateSqlite({ url, busyTimeoutMs: 2000, synchronous: 'FULL' })
const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url }) })
await prisma.$executeRawUnsafe('PRAGMA synchronous = FULL')
const lean = process.env.NAIVE_INBOX === 'lean'
if (lean) {
  await prisma.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS "lean_inbox" ("id" TEXT NOT NULL PRIMARY KEY, "event_type" TEXT NOT NULL,
    "time" DATETIME NOT NULL, "log_id" TEXT, "received_at" DATETIME NOT NULL)`)
}

const Envelope = Type.Object({
  id: Type.String({ minLength: 1 }),
  'detail-type': Type.String(),
  source: Type.String(),
  time: Type.String(),
  detail: Type.Object({ event_type: Type.String(), event: Type.String(), trace_id: Type.Optional(Type.String()) })
})

interface SaasusEvent { log_id?: string, uri?: string, request_method?: string, http_status?: string, response_body?: string }

/** The tenant an event is about: the created tenant's id, or the id in the URI. */
function tenantOf (event: SaasusEvent): string | undefined {
  const fromUri = /\/tenants\/([^/]+)/.exec(event.uri ?? '')?.[1]
  if (fromUri !== undefined) return fromUri
  if (event.response_body === undefined || event.response_body === '') return undefined
  const response = JSON.parse(event.response_body) as { id?: string }
  return event.uri === '/v1/auth/tenants' ? response.id : undefined
}

const app = Fastify({ logger: false, bodyLimit: 256 * 1024 }).withTypeProvider<TypeBoxTypeProvider>()
app.addHook('onRequest', async (request, reply) => {
  if (request.headers['x-api-key'] !== process.env.API_KEY) await reply.code(401).send({ error: 'unauthorized' })
})
app.post('/events', { schema: { body: Envelope } }, async (request) => {
  const envelope = request.body
  const event = JSON.parse(envelope.detail.event) as SaasusEvent
  const time = new Date(envelope.time)
  const tenantId = tenantOf(event)
  try {
    await prisma.$transaction(async tx => {
      if (lean) {
        await tx.$executeRaw`INSERT INTO "lean_inbox" ("id", "event_type", "time", "log_id", "received_at")
          VALUES (${envelope.id}, ${envelope.detail.event_type}, ${time}, ${event.log_id ?? null}, ${new Date()})`
      } else await tx.event.create({
        data: {
          id: envelope.id,
          eventType: envelope.detail.event_type,
          time,
          logId: event.log_id ?? null,
          traceId: envelope.detail.trace_id ?? null,
          uri: event.uri ?? null,
          method: event.request_method ?? null,
          httpStatus: event.http_status === undefined ? null : Number(event.http_status),
          receivedAt: new Date(),
          outcome: 'applied',
          raw: envelope
        }
      })
      if (tenantId === undefined) return
      const stored = await tx.tenant.findUnique({ where: { id: tenantId } })
      const version = time.toISOString()
      if (stored !== null && stored.liveV >= version) return
      await tx.tenant.upsert({
        where: { id: tenantId },
        create: { id: tenantId, live: true, liveV: version },
        update: { live: true, liveV: version }
      })
    })
  } catch (err) {
    // A repeated envelope id: P2002 from the model's create, a raw query's unique violation (P2010) from the lean INSERT.
    const { code, message } = err as { code?: string, message?: string }
    if (code === 'P2002' || (code === 'P2010' && message?.includes('SQLITE_CONSTRAINT_PRIMARYKEY') === true)) return { results: [{ id: envelope.id, outcome: 'duplicate' }] }
    throw err
  }
  return { results: [{ id: envelope.id, outcome: 'applied' }] }
})
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${address}\n`)
process.on('SIGTERM', () => { void app.close().then(async () => { await prisma.$disconnect(); process.exit(0) }) })
