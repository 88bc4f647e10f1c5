import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

// server.ts and the maintenance scripts as real child processes.

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))

export interface ServerProcess {
  /** The child's process id (for its memory in /proc). */
  pid: number
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  output: () => string
  kill: (signal: NodeJS.Signals) => void
}

/** server.ts in a child process; `nodeArgs` go to node before the script (e.g. V8 flags npm start uses). */
export function startServer (env: Record<string, string>, nodeArgs: string[] = []): ServerProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import=tsx', SERVER], {
    // Only ever 127.0.0.1: these tests must not reach any other host.
    env: { ...process.env, LOG_LEVEL: 'info', ...env, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', d => { output += String(d) })
  child.stderr.on('data', d => { output += String(d) })
  const exit = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { pid: child.pid!, exit, output: () => output, kill: signal => child.kill(signal) }
}

/** The port the server listens on, from its "Server listening" log line (needs LOG_LEVEL info or lower). */
export async function waitListening (server: ServerProcess): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())
    if (match !== null) return Number(match[1])
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`server did not start:\n${server.output()}`)
}

/** One of src/scripts/*.ts in a child process, as `npm run <script>` would run it (to kill it midway). */
export function startScript (name: string, args: string[], env: Record<string, string>): ServerProcess {
  const script = fileURLToPath(new URL(`../../src/scripts/${name}.ts`, import.meta.url))
  const child = spawn(process.execPath, ['--import=tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => { output += String(d) })
  child.stderr.on('data', d => { output += String(d) })
  const exit = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { pid: child.pid!, exit, output: () => output, kill: signal => child.kill(signal) }
}

/** Runs one of src/scripts/*.ts to its end, as `npm run <script>` would; its output is stdout and stderr. */
export async function runScript (name: string, args: string[], env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  const child = startScript(name, args, env)
  const { code } = await child.exit
  return { code, output: child.output() }
}

/** A port the OS says is free now (for processes that must be told their port up front). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}
