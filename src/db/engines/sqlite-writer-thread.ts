import { parentPort } from 'node:worker_threads'
import { WriterHost } from './sqlite-writer-host.js'
import { toWire, type ThreadRequest, type WriterReply } from './sqlite-writer-messages.js'

// The SQLite writer thread (started by sqlite-writer.ts, once per process): holds the write connection of
// each database the process opened (one, in the service; many in a test run) and answers each request in
// the order its work ends. Says `ready` once its modules are loaded.

const port = parentPort!
const hosts = new Map<number, WriterHost>()

async function handle ({ connection, request }: ThreadRequest): Promise<unknown> {
  if (request.op === 'open') {
    hosts.set(connection, await WriterHost.open(request.options))
    return undefined
  }
  const host = hosts.get(connection)
  if (host === undefined) throw new TypeError('The database connection is not open')
  if (request.op === 'close') hosts.delete(connection)
  return await host.handle(request)
}

port.on('message', (message: ThreadRequest) => {
  handle(message).then(
    value => { port.postMessage({ id: message.id, ok: true, value } satisfies WriterReply) },
    (err: unknown) => { port.postMessage({ id: message.id, ok: false, error: toWire(err) } satisfies WriterReply) })
})
port.postMessage({ ready: true })
