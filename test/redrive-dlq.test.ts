import { execFile } from 'node:child_process'
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { API_KEY, buildApp, getJson, tempDir, type Teardown } from './helpers/app.js'

// examples/redrive-dlq.sh against a real receiver on a local port. SQS is on the internet, so its mode runs
// against a stand-in `aws` command on PATH that answers receive-message and delete-message from a file, in the
// shape the aws CLI prints (examples/dlq-messages.json is such an answer).
const script = new URL('../examples/redrive-dlq.sh', import.meta.url).pathname
const saved = JSON.parse(readFileSync(new URL('../examples/dlq-messages.json', import.meta.url), 'utf8'))
const tenantId = 'fc84307d-e285-4854-8c16-21a6871a2a13'
const queueUrl = 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/dlq'

interface Run { code: number, stdout: string, stderr: string }
async function run (args: string[], env: Record<string, string | undefined>, input?: string): Promise<Run> {
  return await new Promise(resolve => {
    const child = execFile('bash', [script, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as any).code, stdout, stderr })
    })
    // A usage error exits before reading its input: writing to it then is EPIPE, not the test's failure.
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

async function receiver (t: Teardown): Promise<{ url: string, app: FastifyInstance }> {
  const { app } = await buildApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, app }
}

/**
 * A stand-in `aws` (sqs receive-message / delete-message only) over a JSON file of messages; logs each call.
 * A received message stays hidden (a long visibility timeout) unless `reappear`: then it is visible again at the
 * next receive, as when the visibility timeout has run out.
 */
function fakeAws (t: Teardown, messages: unknown[], reappear = false): { bin: string, state: string, log: string } {
  const dir = tempDir(t)
  const state = join(dir, 'queue.json')
  const log = join(dir, 'calls.log')
  writeFileSync(state, JSON.stringify({ messages, hidden: [], deleted: [] }))
  writeFileSync(log, '')
  const aws = join(dir, 'aws')
  writeFileSync(aws, `#!/usr/bin/env node
const fs = require('fs')
const args = process.argv.slice(2)
fs.appendFileSync(${JSON.stringify(log)}, args.join(' ') + '\\n')
const arg = name => args[args.indexOf(name) + 1]
if (arg('--queue-url') !== ${JSON.stringify(queueUrl)}) { console.error('unknown queue'); process.exit(254) }
const q = JSON.parse(fs.readFileSync(${JSON.stringify(state)}, 'utf8'))
if (args[0] === 'sqs' && args[1] === 'receive-message') {
  const max = Number(arg('--max-number-of-messages'))
  if (${JSON.stringify(reappear)}) q.hidden = []
  const batch = q.messages.filter(m => !q.hidden.includes(m.ReceiptHandle) && !q.deleted.includes(m.ReceiptHandle)).slice(0, max)
  q.hidden.push(...batch.map(m => m.ReceiptHandle))
  // Like the aws CLI: nothing at all when the queue has no visible message.
  if (batch.length > 0) process.stdout.write(JSON.stringify({ Messages: batch }, null, 4) + '\\n')
} else if (args[0] === 'sqs' && args[1] === 'delete-message') {
  q.deleted.push(arg('--receipt-handle'))
} else { console.error('unsupported: ' + args.join(' ')); process.exit(252) }
fs.writeFileSync(${JSON.stringify(state)}, JSON.stringify(q))
`)
  chmodSync(aws, 0o755)
  return { bin: dir, state, log }
}

const bad = { MessageId: 'bad-1', ReceiptHandle: 'handle-bad', Body: '{"version":"0","id":"not-an-event"}', MessageAttributes: { ERROR_MESSAGE: { StringValue: 'Bad request', DataType: 'String' } } }

t.test('--file: posts every saved message\'s body, as EventBridge would', async t => {
  const { url, app } = await receiver(t)
  const env = { API_KEY, RECEIVER_URL: url }
  const first = await run(['--file', 'examples/dlq-messages.json'], env)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /delivered 00000001-aaaa-4bbb-8ccc-dddddddddddd: HTTP 200 .*"applied"/)
  t.match(first.stdout, /2 delivered, 0 not delivered/)
  t.equal((await getJson(app, `/tenants/${tenantId}`)).statusCode, 200, 'the tenant is there')

  const again = await run(['--file', '-'], env, JSON.stringify(saved))
  t.equal(again.code, 0, 'from standard input; posting twice is harmless')
  t.match(again.stdout, /"duplicate"/)
})

t.test('--file: a message the receiver refuses is reported, the others still delivered', async t => {
  const { url } = await receiver(t)
  const res = await run(['--file', '-'], { API_KEY, RECEIVER_URL: url }, JSON.stringify({ Messages: [bad, saved.Messages[0]] }))
  t.equal(res.code, 1)
  t.match(res.stdout, /NOT delivered bad-1 \(it failed with: Bad request\): HTTP 400/)
  t.match(res.stdout, /1 delivered, 1 not delivered/)
})

t.test('SQS: deletes a message only after the receiver answered 2xx', async t => {
  const { url, app } = await receiver(t)
  // 12 messages: more than one receive batch of 10.
  const many = Array.from({ length: 10 }, (_, i) => ({ ...saved.Messages[0], MessageId: `copy-${i}`, ReceiptHandle: `handle-copy-${i}` }))
  const aws = fakeAws(t, [saved.Messages[0], bad, ...many, saved.Messages[1]])
  const res = await run([queueUrl], { API_KEY, RECEIVER_URL: url, PATH: `${aws.bin}:${process.env.PATH as string}` })
  t.equal(res.code, 1, 'one was not delivered')
  t.match(res.stdout, /12 delivered, 1 not delivered/)
  const q = JSON.parse(readFileSync(aws.state, 'utf8'))
  t.same(q.deleted.sort(), [...many.map(m => m.ReceiptHandle), 'example-receipt-handle-1', 'example-receipt-handle-2'].sort())
  t.notOk(q.deleted.includes('handle-bad'), 'the refused message stays in the queue')
  const calls = readFileSync(aws.log, 'utf8').trim().split('\n')
  t.equal(calls.filter(c => c.startsWith('sqs receive-message')).length, 3, 'receives until the queue answers nothing')
  t.match(calls[0], /--visibility-timeout 300 --message-attribute-names All --output json/)
  t.equal((await getJson(app, `/tenants/${tenantId}`)).statusCode, 200)
})

t.test('SQS: a refused message that becomes visible again ends the run instead of looping', async t => {
  const { url } = await receiver(t)
  const aws = fakeAws(t, [bad], true)
  const res = await run([queueUrl], { API_KEY, RECEIVER_URL: url, PATH: `${aws.bin}:${process.env.PATH as string}` })
  t.equal(res.code, 1)
  t.match(res.stdout, /0 delivered, 1 not delivered/)
  t.equal(readFileSync(aws.log, 'utf8').trim().split('\n').filter(c => c.startsWith('sqs receive-message')).length, 2,
    'stops at the second sight of the same message')
  t.same(JSON.parse(readFileSync(aws.state, 'utf8')).deleted, [])
})

t.test('SQS: nothing is deleted when the receiver cannot be reached', async t => {
  const aws = fakeAws(t, [saved.Messages[0]])
  const res = await run([queueUrl], { API_KEY, RECEIVER_URL: 'http://127.0.0.1:9', PATH: `${aws.bin}:${process.env.PATH as string}` })
  t.equal(res.code, 1)
  t.match(res.stdout, /NOT delivered .*request to http:\/\/127\.0\.0\.1:9\/events failed/)
  t.same(JSON.parse(readFileSync(aws.state, 'utf8')).deleted, [])
})

t.test('usage errors: nothing received or posted', async t => {
  const aws = fakeAws(t, [saved.Messages[0]])
  const path = `${aws.bin}:${process.env.PATH as string}`
  const noKey = await run([queueUrl], { PATH: path })
  t.equal(noKey.code, 2)
  t.match(noKey.stderr, /API_KEY is not set/)
  t.equal(readFileSync(aws.log, 'utf8'), '', 'the queue was not touched')
  t.equal((await run([], { API_KEY, PATH: path })).code, 2)
  t.match((await run(['--file'], { API_KEY })).stderr, /Usage/)
  t.match((await run(['--bogus'], { API_KEY })).stderr, /Usage/)
  t.match((await run(['--file', '/nonexistent.json'], { API_KEY })).stderr, /cannot read/)
  const notJson = await run(['--file', '-'], { API_KEY }, 'not json')
  t.equal(notJson.code, 2)
  t.match(notJson.stderr, /not the output of aws sqs receive-message/)
  t.match((await run(['--file', '-'], { API_KEY }, '{"Messages":[{"MessageId":"x"}]}')).stderr, /message 1 has no Body/)
  // A PATH with the tools the script uses, and no aws.
  const bin = tempDir(t)
  for (const tool of ['bash', 'dirname', 'sed', 'mktemp', 'rm', 'cat', 'tr', 'grep', 'node', 'curl']) {
    const found = (process.env.PATH as string).split(':').map(d => join(d, tool)).find(f => { try { readFileSync(f); return true } catch { return false } })
    if (found !== undefined) symlinkSync(found, join(bin, tool))
  }
  t.match((await run([queueUrl], { API_KEY, PATH: bin })).stderr, /aws CLI is not installed/)
})
