import t from 'tap'
import { engineTest, postgresql, type Engine } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { startServer, type ServerProcess } from './helpers/process.js'

// The PostgreSQL trap: with concurrent transactions, sequence order is not commit order, and a reader
// asking for `cursor > last` could step over an entry that commits later with a smaller cursor. Here four
// receiver processes on one schema (each writing up to four batches at once) take concurrent deliveries,
// while a reader follows GET /changes (long polls, from every replica in turn). The reader must see every
// entry exactly once, in cursor order, without a gap: cursors are 1, 2, 3, ... as they are given out in
// commit order.

const KEY = 'feed-race-test-key-0123456789'
const REPLICAS = 4
const CLIENTS = 16
const USERS = 400
const MAX_ATTEMPTS = 30

type Event = Record<string, any>

/** The port a server listens on, once it says so (four servers starting at once on a busy machine: up to 2 minutes). */
async function listening (server: ServerProcess): Promise<number> {
  for (let i = 0; i < 1200; i++) {
    const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())
    if (match !== null) return Number(match[1])
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`server did not start:\n${server.output()}`)
}

t.setTimeout(300_000)

engineTest(t, 'concurrent writers on 4 replicas, a reader that sees every entry once and in order', async (t, engine: Engine) => {
  const env = {
    API_KEYS: KEY,
    DATABASE_URL: engine.databaseUrl(t),
    LOG_LEVEL: 'info',
    PORT: '0',
    PG_POOL_MAX: '5',
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    RETRY_AFTER_SECONDS: '1'
  }
  const servers = Array.from({ length: REPLICAS }, () => startServer(env))
  t.teardown(async () => { for (const s of servers) { s.kill('SIGTERM') } await Promise.all(servers.map(async s => await s.exit)) })
  if (process.env.FEED_RACE_DEBUG !== undefined) t.teardown(() => { console.log(servers[0].output().slice(-6000)) })
  const ports = await Promise.all(servers.map(async s => await listening(s)))
  const started = Date.now()
  const base = (n: number) => `http://127.0.0.1:${ports[n % REPLICAS]}`

  // Each event creates its own user (one entry each); batches of 1 to 5 events, sent by concurrent clients.
  const list: Event[] = Array.from({ length: USERS }, (_, k) =>
    events.createUser(`u${k}`, { email: `u${k}@x` }, { time: '2026-05-19T10:00:00Z', id: `evt-${k}` }))
  const requests: Event[][] = []
  for (let k = 0; k < list.length;) { const size = 1 + (k % 5); requests.push(list.slice(k, k + size)); k += size }

  let writing = true
  const seen: Array<{ cursor: number, id: string }> = []
  const order: string[] = []
  const reader = (async () => {
    let after = 0
    for (let n = 0; writing || true; n++) {
      const res = await fetch(`${base(n)}/changes?after=${after}&limit=37&wait=${writing ? 2 : 0}`, { headers: { 'x-api-key': KEY } })
      if (res.status !== 200) throw new Error(`GET /changes: ${res.status} ${await res.text()}`)
      const page = await res.json() as { entries: Array<{ cursor: number, key: { id: string } }>, next_after: number }
      for (const e of page.entries) {
        if (e.cursor !== after + 1) order.push(`after ${after} came ${e.cursor}`)
        after = e.cursor
        seen.push({ cursor: e.cursor, id: e.key.id })
      }
      if (!writing && page.entries.length === 0) return
    }
  })()

  let next = 0
  let unavailable = 0
  let unconfirmed = 0
  const client = async (n: number): Promise<void> => {
    for (let r = next++; r < requests.length; r = next++) {
      // As the API asks of a sender (docs/api.md): a 503 is sent again whole, and a batch's items answered
      // `unconfirmed` (others of it were committed: 200) are sent again on their own.
      let pending = requests[r]
      for (let attempt = 0; ; attempt++) {
        if (attempt === MAX_ATTEMPTS) throw new Error(`request ${r} failed ${MAX_ATTEMPTS} times`)
        const body = JSON.stringify(requests[r].length === 1 ? pending[0] : pending)
        const res = await fetch(`${base(n + attempt)}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body }).catch(() => undefined)
        if (res?.status === 200) {
          const { results } = await res.json() as { results: Array<{ id: string, outcome: string }> }
          const again = new Set(results.filter(result => result.outcome === 'unconfirmed').map(result => result.id))
          if (results.some(result => result.outcome === 'rejected')) throw new Error(`POST /events: an item was rejected: ${JSON.stringify(results)}`)
          if (again.size === 0) break
          unconfirmed += again.size
          pending = pending.filter(event => again.has(event.id))
        } else {
          if (res !== undefined && res.status !== 503) throw new Error(`POST /events: ${res.status} ${await res.text()}`)
          unavailable++
        }
        await new Promise(resolve => setTimeout(resolve, 20 * (attempt + 1)))
      }
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, async (_, n) => await client(n)))
  t.comment(`written in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  writing = false
  await reader

  t.same(order, [], 'every entry came right after the one before it')
  t.equal(seen.length, USERS, `${USERS} entries seen`)
  t.equal(new Set(seen.map(s => s.id)).size, USERS, 'each user once')
  t.comment(`${requests.length} requests, ${unavailable} answered 503 and sent again, ${unconfirmed} batch items unconfirmed and sent again`)
}, [postgresql])
