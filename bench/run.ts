import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, totalmem } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import Database from 'better-sqlite3'
import { workload } from './workload.js'

// `npm run bench`: bare Fastify and the receiver, side by side on this machine, same payloads, same client.
// Closed loop with 64 connections for throughput and p99, then open loop at EventBridge's default
// 300 requests/s for latency; peak RSS sampled from /proc. Durations: BENCH_SECONDS (default 30) and
// BENCH_OPEN_SECONDS (default 15). Results: a table on stdout and bench/results/latest.json.

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30)
const OPEN_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 15)
const CONNECTIONS = 64
const KEY = 'bench-key-0123456789abcdef'
const root = fileURLToPath(new URL('..', import.meta.url))

interface Started { child: ChildProcess, url: string }

async function start (args: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start:\n${output}`)), 30_000)
    const seen = (d: Buffer) => {
      output += String(d)
      const match = /(?:listening|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) { clearTimeout(timer); resolve({ child, url: match[1] }) }
    }
    child.stdout!.on('data', seen)
    child.stderr!.on('data', seen)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${output}`)) })
  })
}

/** A port the OS says is free now. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** The built receiver at LOG_LEVEL=warn (request logs would be a cost of their own), on a free port. */
async function startReceiver (env: Record<string, string>): Promise<Started> {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), API_KEYS: KEY, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/events`, { method: 'POST' })).status === 401) return { child, url }
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error('the receiver did not start')
}

async function stop (child: ChildProcess): Promise<void> {
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

interface Measured {
  requests: number
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  peakRssMb: number
  endRssMb: number
  distinctOk: number
}

async function drive (target: Started, seconds: number, rate?: number): Promise<Measured> {
  const load = workload()
  const ok = new Set<string>()
  let peak = 0
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(target.child.pid!)) }, 200)
  const result = await autocannon({
    url: target.url,
    connections: rate === undefined ? CONNECTIONS : 16,
    duration: seconds,
    ...(rate === undefined ? {} : { overallRate: rate }),
    requests: [{
      method: 'POST',
      path: '/events',
      setupRequest: (request: any, context: any) => {
        const { id, body } = load.next()
        context.id = id
        return {
          ...request,
          body,
          headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Amazon/EventBridge/ApiDestinations', 'x-api-key': KEY }
        }
      },
      onResponse: (status: number, _body: string, context: any) => { if (status >= 200 && status < 300) ok.add(context.id) }
    }]
  } as any)
  clearInterval(sampler)
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    peakRssMb: Math.max(peak, rssMb(target.child.pid!)),
    endRssMb: rssMb(target.child.pid!),
    distinctOk: ok.size
  }
}

const rows: Array<Record<string, string | number>> = []
const record = (name: string, m: Measured, baselineRps: number) => {
  rows.push({
    target: name, 'req/s': Math.round(m.rps), 'p50 ms': m.p50, 'p99 ms': m.p99,
    'vs bare': `${Math.round((m.rps / baselineRps) * 100)} %`, 'peak RSS MB': Math.round(m.peakRssMb), 'non-2xx': m.non2xx, errors: m.errors
  })
}

const baseline = await start(['--import=tsx', 'bench/baseline.ts'], {})
const bare = await drive(baseline, SECONDS)
await stop(baseline.child)
record('bare Fastify', bare, bare.rps)

const dir = mkdtempSync(join(tmpdir(), 'receiver-bench-'))
const file = join(dir, 'bench.db')
const receiver = await startReceiver({ DATABASE_URL: `file:${file}`, SQLITE_SYNCHRONOUS: 'FULL' })
const first = await drive(receiver, SECONDS)
record('receiver SQLite (FULL), run 1', first, bare.rps)
const second = await drive(receiver, SECONDS)
record('receiver SQLite (FULL), run 2', second, bare.rps)
const open = await drive(receiver, OPEN_SECONDS, 300)
record('receiver SQLite, 300 req/s open loop', open, bare.rps)
await stop(receiver.child)

const db = new Database(file, { readonly: true })
const recorded = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n
db.close()
rmSync(dir, { recursive: true, force: true })
const acknowledged = first.distinctOk + second.distinctOk + open.distinctOk

const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
console.log(`\nmachine: ${machine}; ${CONNECTIONS} connections, ${SECONDS} s per closed-loop run\n`)
console.table(rows)
console.log(`correctness: ${recorded} events recorded, ${acknowledged} distinct event ids answered 2xx: ${recorded === acknowledged ? 'equal' : 'DIFFERENT'}`)
console.log(`memory: RSS ${Math.round(first.endRssMb)} MB after run 1, ${Math.round(second.endRssMb)} MB after run 2`)

mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify({ machine, date: new Date().toISOString(), seconds: SECONDS, connections: CONNECTIONS, rows, recorded, acknowledged }, null, 2) + '\n')
if (recorded !== acknowledged) process.exitCode = 1
