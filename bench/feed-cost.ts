import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { workload } from './workload.js'
import { postgresAdmin, schemaUrl, skippedMessage } from './postgresql.js'
import { freePort } from '../test/helpers/process.js'
import { startReceiverProcess, type Started } from './receiver-process.js'

// What the change feed costs the receiver on PostgreSQL under saturation, without the rest of `npm run bench`
// (~15 min): the built receiver (dist/, `npm run build` first) driven in a closed loop (64 connections,
// autocannon, the bench's workload), with the feed on and off (bench/feed-off.ts), BENCH_ROUNDS times
// alternately (default 2), BENCH_SECONDS each (default 10), each on a fresh schema. Prints req/s and the
// load average before and after. BENCH_ROOT: another checkout's built receiver (to compare versions).

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const KEY = 'bench-key-0123456789abcdef'
const root = process.env.BENCH_ROOT ?? fileURLToPath(new URL('..', import.meta.url))
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Amazon/EventBridge/ApiDestinations', 'x-api-key': KEY }

async function startReceiver (databaseUrl: string, feed: boolean): Promise<Started> {
  const entry = feed ? ['dist/server.js'] : ['--import=tsx', 'bench/feed-off.ts']
  return await startReceiverProcess(root, await freePort(), entry, { API_KEYS: KEY, LOG_LEVEL: 'warn', NODE_ENV: 'production', DATABASE_URL: databaseUrl })
}

async function closedLoop (url: string): Promise<{ rps: number, non2xx: number }> {
  const load = workload()
  const result = await autocannon({
    url,
    connections: 64,
    duration: SECONDS,
    requests: [{ method: 'POST', path: '/events', setupRequest: (request: any) => ({ ...request, body: load.next().body, headers: HEADERS }) }]
  } as any)
  return { rps: Math.round(result.requests.average), non2xx: result.non2xx }
}

const admin = await postgresAdmin()
if (admin === undefined) {
  console.log(skippedMessage())
  process.exit(0)
}
const load = (): string => loadavg().map(l => l.toFixed(2)).join(' ')
console.log(`load average before: ${load()}`)
const rows: Array<Record<string, string | number>> = []
for (let round = 1; round <= ROUNDS; round++) {
  for (const feed of [true, false]) {
    const schema = `feed_cost_${Date.now()}`
    const receiver = await startReceiver(schemaUrl(schema), feed)
    try {
      const { rps, non2xx } = await closedLoop(receiver.url)
      rows.push({ round, feed: feed ? 'on' : 'off', 'req/s': rps, 'non-2xx': non2xx, load: load() })
    } finally {
      const exited = new Promise(resolve => receiver.child.once('exit', resolve))
      receiver.child.kill('SIGTERM')
      await exited
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  }
}
await admin.end()
console.table(rows)
console.log(`load average after: ${load()}`)
