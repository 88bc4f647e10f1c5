import t from 'tap'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { API_KEY, buildApp } from './helpers/app.js'

// Issue 18, finding 10: a body that stalls is cut off after REQUEST_TIMEOUT_MS and its connection freed.

t.test('a request whose body stalls gets 408 and its connection is closed', async t => {
  const { app } = await buildApp(t, { REQUEST_TIMEOUT_MS: '1000' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const started = Date.now()
  const answer = await new Promise<{ text: string, closedAfterMs: number }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', d => { text += String(d) })
    socket.on('error', reject)
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }))
    socket.write(`POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-api-key: ${API_KEY}\r\nContent-Length: 1000\r\n\r\n{"id":`)
    // One byte now and then, as a slow sender would: never the whole body.
    const drip = setInterval(() => { if (!socket.destroyed) socket.write(' ') }, 200)
    socket.on('close', () => clearInterval(drip))
  })
  t.match(answer.text, /^HTTP\/1\.1 408 Request Timeout/)
  t.match(answer.text, '"statusCode":408')
  t.ok(answer.closedAfterMs >= 1000 && answer.closedAfterMs < 10000, `closed after ${answer.closedAfterMs} ms`)
  t.equal((await app.inject('/healthz')).statusCode, 200)
})
