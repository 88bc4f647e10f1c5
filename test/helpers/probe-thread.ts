import { parentPort, workerData } from 'node:worker_threads'
import { Agent, request } from 'node:http'
import { events, makeEvent } from './events.js'

// The probes of a stress file, in a thread of their own (started by probes.ts): /healthz every 20 ms and an
// event every 50 ms, each sample timed here, so that what the stress file's own thread does meanwhile (parsing
// hundreds of megabytes of answers) is not counted as the server's latency. Each sample is posted when done.

const { port, key } = workerData as { port: number, key: string }
const out = parentPort!
const agent = new Agent({ keepAlive: true })
let running = true
let feedless = false
const at = (): number => performance.timeOrigin + performance.now()

async function call (path: string, method: string, body?: string): Promise<number> {
  return await new Promise(resolve => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, timeout: 30_000, headers: body === undefined ? {} : { 'x-api-key': key, 'content-type': 'application/json' } }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode!) })
      res.on('error', () => { resolve(0) })
    })
    req.on('timeout', () => { req.destroy() })
    req.on('error', () => { resolve(0) })
    req.end(body)
  })
}

async function loop (kind: 'health' | 'intake', everyMs: number, send: (k: number) => Promise<number>): Promise<void> {
  for (let k = 0; running && k < 100_000; k++) {
    const started = performance.now()
    const status = await send(k)
    const ms = performance.now() - started
    out.postMessage({ kind, at: at(), ms: status === 0 ? Math.max(ms, 30_000) : ms, status })
    await new Promise(resolve => setTimeout(resolve, kind === 'health' ? everyMs : Math.max(0, everyMs - ms)))
  }
}

const loops = [
  loop('health', 20, async () => await call('/healthz', 'GET')),
  loop('intake', 50, async k => {
    const o = { time: new Date().toISOString(), id: `probe-load-${k}` }
    // A call SaaSus refused is recorded `ignored`: written and flushed like any event, but no feed entry.
    const event = feedless
      ? makeEvent({ eventType: 'create_saas_user', method: 'POST', uri: '/v1/auth/users', httpStatus: 400, request: {}, response: {}, ...o })
      : events.createUser(`load-${k}`, { email: `load-${k}@x` }, o)
    return await call('/events', 'POST', JSON.stringify(event))
  })
]
out.on('message', (message: { flush?: number, stop?: true, feedless?: boolean }) => {
  if (message.feedless !== undefined) feedless = message.feedless
  if (message.stop === true) {
    running = false
    void Promise.all(loops).then(() => { agent.destroy(); out.postMessage({ stopped: true }) })
  } else {
    out.postMessage({ flushed: message.flush })
  }
})
out.postMessage({ ready: true })
