import { Agent, request } from 'node:http'
import type { Workload } from './workload.js'

// autocannon's `overallRate` is not an open loop: each connection sends its share of a second's requests
// back to back at the start of every second, then waits, so a "300 requests/s" run is a burst every
// second. EventBridge spreads its deliveries over time. This driver sends request i at start + i / rate,
// whether or not earlier ones were answered, and measures each latency from that scheduled instant
// (a slow answer cannot hide the requests queued behind it). `connectionPerRequest` opens a new connection for
// every request and closes it after the answer, as EventBridge's API destinations do; otherwise connections
// are kept alive and reused.

export interface OpenLoopResult {
  requests: number
  /** Sorted latencies, ms. */
  latencies: number[]
  non2xx: number
  errors: number
  /** Envelope ids answered 2xx. */
  ok: Set<string>
}

export async function openLoop (
  url: string, rate: number, seconds: number, load: Workload, headers: Record<string, string>, connectionPerRequest = false
): Promise<OpenLoopResult> {
  // `agent: false`: a socket of its own per request, with `Connection: close`.
  const agent = connectionPerRequest ? false : new Agent({ keepAlive: true, maxSockets: 256 })
  const target = new URL('/events', url)
  const total = Math.round(rate * seconds)
  const latencies: number[] = []
  const ok = new Set<string>()
  let non2xx = 0
  let errors = 0
  let pending = 0
  let sent = 0
  const start = performance.now()

  await new Promise<void>(resolve => {
    const send = (due: number) => {
      const { id, body } = load.next()
      pending++
      const req = request(target, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, res => {
        res.resume()
        res.on('end', () => {
          latencies.push(performance.now() - due)
          if (res.statusCode! >= 200 && res.statusCode! < 300) ok.add(id)
          else non2xx++
          done()
        })
      })
      req.on('error', () => { errors++; done() })
      req.end(body)
    }
    const done = () => { if (--pending === 0 && sent === total) resolve() }
    const tick = () => {
      const now = performance.now()
      while (sent < total && start + (sent * 1000) / rate <= now) send(start + (sent++ * 1000) / rate)
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - performance.now()))
    }
    tick()
  })
  if (agent !== false) agent.destroy()
  latencies.sort((a, b) => a - b)
  return { requests: total, latencies, non2xx, errors, ok }
}

export const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
