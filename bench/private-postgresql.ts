import { execFile } from 'node:child_process'
import { chownSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

// A PostgreSQL cluster of the bench's own (bench/slow-disk.ts), so that its flushes can be slowed down
// like the receiver's: initdb into a fresh directory, started with pg_ctl with the environment given (the
// flush shim's LD_PRELOAD and FLUSH_DELAY_MS), listening on 127.0.0.1 only, on a port other than 5432, and
// removed afterwards. The server refuses to run as root, so when the bench runs as root the cluster runs as
// the `postgres` user (runuser). BENCH_PG_BIN: where initdb and pg_ctl are (default PostgreSQL 15's).

const run = promisify(execFile)
const BIN = process.env.BENCH_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export class PrivateCluster {
  private constructor (readonly dir: string, readonly port: number, private readonly user: string | undefined) {}

  /** initdb into `dir`/data (created; owned by `postgres` when running as root). */
  static async create (dir: string, port: number): Promise<PrivateCluster> {
    const user = process.getuid?.() === 0 ? 'postgres' : undefined
    mkdirSync(dir, { recursive: true })
    if (user !== undefined) {
      const { stdout } = await run('id', ['-u', user])
      const { stdout: gid } = await run('id', ['-g', user])
      chownSync(dir, Number(stdout), Number(gid))
    }
    const cluster = new PrivateCluster(dir, port, user)
    await cluster.#as({}, join(BIN, 'initdb'), ['-D', cluster.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
    return cluster
  }

  get data (): string {
    return join(this.dir, 'data')
  }

  /** The receiver's DATABASE_URL for a schema of its own in the cluster. */
  url (schema: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres?schema=${schema}`
  }

  /** Starts the server with `env` added to its environment; resolves once it accepts connections. */
  async start (env: Record<string, string>): Promise<void> {
    const options = `-c listen_addresses=127.0.0.1 -c port=${this.port} -c unix_socket_directories=${this.dir} -c max_connections=200`
    await this.#as(env, join(BIN, 'pg_ctl'), ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start'])
  }

  async stop (): Promise<void> {
    await this.#as({}, join(BIN, 'pg_ctl'), ['-D', this.data, '-w', '-t', '60', '-m', 'fast', 'stop'])
  }

  /** Stops the server if it runs, and deletes the cluster. */
  async remove (): Promise<void> {
    await this.stop().catch(() => {})
    rmSync(this.dir, { recursive: true, force: true })
  }

  async #as (env: Record<string, string>, command: string, args: string[]): Promise<void> {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    if (this.user === undefined) await run('env', [...assignments, command, ...args], { cwd: this.dir })
    else await run('runuser', ['-u', this.user, '--', 'env', ...assignments, command, ...args], { cwd: this.dir })
  }
}
