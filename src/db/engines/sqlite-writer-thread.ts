import { parentPort } from 'node:worker_threads'
import { WriterHosts } from './sqlite-writer-host.js'
import { toWire, type ThreadRequest, type WriterReply } from './sqlite-writer-messages.js'

// The SQLite writer thread (started by sqlite-writer.ts, once per process): holds the write connection of
// each database the process opened (one, in the service; many in a test run) and answers each request in
// the order its work ends. Says `ready` once its modules are loaded. Only this wiring lives here: what it
// does is in sqlite-writer-host.ts, which tests also run on the main thread (where coverage is measured).

const port = parentPort!
const hosts = new WriterHosts()

port.on('message', (message: ThreadRequest) => {
  hosts.handle(message).then(
    value => { port.postMessage({ id: message.id, ok: true, value } satisfies WriterReply) },
    (err: unknown) => { port.postMessage({ id: message.id, ok: false, error: toWire(err) } satisfies WriterReply) })
})
port.postMessage({ ready: true })
