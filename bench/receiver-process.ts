import { spawn, type ChildProcess } from 'node:child_process'

// A receiver process for the benches: started with `args` in `root` (a checkout with its dist/ built), ready
// once POST /events answers 401 (the API key is checked: the app and its database are up).

export interface Started { child: ChildProcess, url: string }

export async function startReceiverProcess (root: string, port: number, args: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/events`, { method: 'POST' })).status === 401) return { child, url }
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  child.kill('SIGTERM')
  throw new Error('the receiver did not start')
}
