import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * The SaaSus stand-in (saasus-stand-in.ts) in a process of its own, so that its work does not count as the
 * service's; `env` sets its sizes (BENCH_TENANTS, ...). Resolves with its URL once it listens.
 */
export async function startStandIn (env: Record<string, string> = {}): Promise<{ url: string, stop: () => void }> {
  const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(new URL('saasus-stand-in.ts', import.meta.url))],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', d => {
      out += String(d)
      const match = /listening (\S+)/.exec(out)
      if (match !== null) resolve(match[1])
    })
    child.on('exit', code => reject(new Error(`stand-in exited ${code}`)))
  })
  return { url, stop: () => child.kill('SIGTERM') }
}
