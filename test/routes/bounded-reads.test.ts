import t from 'tap'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { API_KEY, buildApp, deliver, getJson, postEvent } from '../helpers/app.js'
import { engineTest } from '../helpers/engines.js'
import { events } from '../helpers/events.js'

// Bounded work and memory per request (issue 25): pages stop before PAGE_MAX_BYTES (never empty while an
// entry follows, and a follower resumes where a page stopped), reads wait for a slot (READ_CONCURRENCY) or
// are refused while intake and probes go on, and an answer the client does not read is cut off.

const o = (s: number, id: string) => ({ time: new Date(Date.UTC(2026, 4, 19, 10, 0, s)).toISOString(), id })
interface Entry { cursor: number, key: { id: string } }

/** A GET /tenants that holds a read slot until `open()` is called (its read waits for it). */
async function holdReadSlot (app: FastifyInstance): Promise<{ held: ReturnType<typeof getJson>, open: () => void }> {
  let open!: () => void
  const gate = new Promise<void>(resolve => { open = resolve })
  const tenants = app.repository.tenants.bind(app.repository)
  app.repository.tenants = async (cursor, limit) => { await gate; return await tenants(cursor, limit) }
  const held = getJson(app, '/tenants')
  while (app.readGate.running < 1) await new Promise(resolve => setTimeout(resolve, 5))
  return { held, open }
}

engineTest(t, '/changes pages stop before PAGE_MAX_BYTES, hold at least one entry, and resume at next_after', async (t, engine) => {
  const { app } = await buildApp(t, { PAGE_MAX_BYTES: '4096' }, engine)
  for (let k = 0; k < 10; k++) await deliver(app, events.createTenant(`t${k}`, { name: 'n'.repeat(1000) }, o(k, `e${k}`)))
  // One tenant larger than the whole budget: its entry alone is a page.
  await deliver(app, events.createTenant('big', { name: 'b', attributes: { blob: 'x'.repeat(20_000) } }, o(20, 'e-big')))
  const seen: string[] = []
  const sizes: number[] = []
  let after = 0
  for (let pages = 0; pages < 50; pages++) {
    const res = await getJson(app, `/changes?after=${after}&limit=1000`)
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    const page = res.json() as { entries: Entry[], next_after: number }
    if (page.entries.length === 0) { t.equal(page.next_after, after, 'the end: next_after stays'); break }
    sizes.push(res.body.length)
    t.ok(res.body.length <= 4096 || page.entries.length === 1, `a page of ${page.entries.length} entries, ${res.body.length} bytes`)
    seen.push(...page.entries.map(e => e.key.id))
    t.equal(page.next_after, page.entries.at(-1)!.cursor)
    after = page.next_after
  }
  t.same(seen, [...Array.from({ length: 10 }, (_, k) => `t${k}`), 'big'], 'every entry once, in order')
  t.ok(sizes.length >= 4, `${sizes.length} pages`)
  t.ok(sizes.at(-1)! > 20_000, 'the large entry alone, whole')

  // A long poll's page keeps to the budget too.
  const waiting = getJson(app, `/changes?after=${after}&limit=1000&wait=10`)
  while (app.feedTail.waiting < 1) await new Promise(resolve => setTimeout(resolve, 5))
  await postEvent(app, [0, 1, 2, 3, 4, 5].map(k => events.createTenant(`w${k}`, { name: 'n'.repeat(1000) }, o(30 + k, `w${k}`))))
  const woken = await waiting
  t.ok(woken.json().entries.length >= 1 && woken.body.length <= 4096, `a woken page of ${woken.body.length} bytes`)
})

engineTest(t, 'reads beyond READ_CONCURRENCY and READ_QUEUE_MAX answer 503; intake and /healthz do not wait', async (t, engine) => {
  const { app, logs } = await buildApp(t, { READ_CONCURRENCY: '1', READ_QUEUE_MAX: '1', REQUEST_DEADLINE_MS: '3000' }, engine)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  const { held, open } = await holdReadSlot(app)
  const started = Date.now()
  const queued = await getJson(app, '/users') // waits REQUEST_DEADLINE_MS in the queue, then 503
  t.equal(queued.statusCode, 503)
  t.ok(Date.now() - started >= 2900, 'refused after its wait in the queue')
  t.equal(queued.headers['retry-after'], '5')
  t.match(queued.json(), { message: 'too many reads at once, retry later' })
  t.equal((await postEvent(app, events.createTenant('t2', { name: 'B' }, o(2, 'e2')))).statusCode, 200, 'intake does not wait for reads')
  t.equal((await app.inject('/healthz')).statusCode, 200, '/healthz does not wait for reads')
  const queuedAgain = getJson(app, '/changes')
  while (app.readGate.queued < 1) await new Promise(resolve => setTimeout(resolve, 5))
  const full = await getJson(app, '/tenants/t1')
  t.equal(full.statusCode, 503, 'the queue is full: refused at once')
  open()
  t.equal((await held).statusCode, 200)
  t.equal((await queuedAgain).statusCode, 200, 'the queued read is served when the slot is given back')
  t.equal((await getJson(app, '/tenants')).statusCode, 200, 'a slot is free again')
  t.equal(app.readGate.running, 0, 'every slot given back')
  t.match(logs(), /too many reads at once: answering 503/)
})

engineTest(t, 'a long poll at the head takes no read slot: it waits, is woken or times out while every slot is taken', async (t, engine) => {
  const { app } = await buildApp(t, { READ_CONCURRENCY: '1', READ_QUEUE_MAX: '0' }, engine)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  const { held, open } = await holdReadSlot(app)
  t.equal((await getJson(app, '/changes?after=0')).statusCode, 503, 'a page read from the database needs a slot')
  const { head } = await app.repository.feedBounds()
  const polls = Array.from({ length: 5 }, async () => await getJson(app, `/changes?after=${head}&wait=10`))
  while (app.feedTail.waiting < 5) await new Promise(resolve => setTimeout(resolve, 5))
  await deliver(app, events.createTenant('t2', { name: 'B' }, o(2, 'e2')))
  for (const poll of await Promise.all(polls)) {
    t.equal(poll.statusCode, 200)
    t.same((poll.json() as { entries: Entry[] }).entries.map(e => e.key.id), ['t2'], 'woken with the shared page')
  }
  const { head: now } = await app.repository.feedBounds()
  const timedOut = await getJson(app, `/changes?after=${now}&wait=1`)
  t.same([timedOut.statusCode, timedOut.json()], [200, { entries: [], next_after: now }], 'an empty page when the wait is over')
  t.equal(app.readGate.refused, 1, 'only the read of the database was refused')
  open()
  t.equal((await held).statusCode, 200)
})

engineTest(t, 'at most LONG_POLL_MAX long polls wait at once: one more answers 503 with Retry-After', async (t, engine) => {
  const { app, logs } = await buildApp(t, { LONG_POLL_MAX: '2' }, engine)
  await deliver(app, events.createTenant('t1', { name: 'A' }, o(1, 'e1')))
  const { head } = await app.repository.feedBounds()
  const polls = [0, 1].map(async () => await getJson(app, `/changes?after=${head}&wait=10`))
  while (app.feedTail.waiting < 2) await new Promise(resolve => setTimeout(resolve, 5))
  const third = await getJson(app, `/changes?after=${head}&wait=10`)
  t.same([third.statusCode, third.headers['retry-after'], third.json().message], [503, '5', 'too many long polls at once, retry later'])
  t.match(logs(), /too many long polls at once: answering 503/)
  t.equal((await getJson(app, `/changes?after=0`)).statusCode, 200, 'a read that does not wait is served')
  await deliver(app, events.createTenant('t2', { name: 'B' }, o(2, 'e2')))
  for (const poll of await Promise.all(polls)) t.same(poll.json().entries.map((e: Entry) => e.key.id), ['t2'], 'the waiting two are woken')
})

engineTest(t, 'an answer the client does not read is cut off after REPLY_TIMEOUT_MS, and its read slot given back', async (t, engine) => {
  t.setTimeout(300_000) // 40 events of 1 MB first, on a shared machine
  const { app, logs } = await buildApp(t, { PAGE_MAX_BYTES: String(64 * 1024 * 1024), REPLY_TIMEOUT_MS: '1000' }, engine)
  // About 20 MB of entries: more than the sockets' buffers take without the client reading.
  for (let k = 0; k < 40; k++) {
    const attributes = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`a${i}`, `${k % 10}`.repeat(1800)]))
    await deliver(app, events.createTenant(`t${k}`, { name: 'n', attributes }, o(k, `e${k}`)))
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const socket = connect(port, '127.0.0.1')
  socket.pause() // never reads
  socket.write(`GET /changes?limit=1000 HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n\r\n`)
  t.teardown(() => socket.destroy())
  const started = Date.now()
  while (app.readGate.running < 1) await new Promise(resolve => setTimeout(resolve, 5))
  // The server cuts the connection (what the kernel already holds may still trickle to the client).
  while (!logs().includes('answer not read by the client in time') && Date.now() - started < 20_000) await new Promise(resolve => setTimeout(resolve, 20))
  const held = Date.now() - started
  t.ok(held >= 900 && held < 20_000, `cut off after ${held} ms`)
  while (app.readGate.running > 0) await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(app.readGate.running, 0, 'the slot is given back')
})

engineTest(t, '/tenants and /users pages stop before PAGE_MAX_BYTES, hold at least one item, and resume at next_cursor', async (t, engine) => {
  const { app } = await buildApp(t, { PAGE_MAX_BYTES: '4096' }, engine)
  for (let k = 0; k < 12; k++) {
    await deliver(app, events.createTenant(`t${String(k).padStart(2, '0')}`, { name: 'n'.repeat(900) }, o(k, `e${k}`)))
    await deliver(app, events.createUser(`u${String(k).padStart(2, '0')}`, { email: `${'m'.repeat(900)}@x` }, o(k, `f${k}`)))
  }
  await deliver(app, events.createTenant('t99', { name: 'b', attributes: { blob: 'x'.repeat(20_000) } }, o(20, 'e-big')))
  for (const list of ['tenants', 'users']) {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await getJson(app, `/${list}?limit=200${cursor === null ? '' : `&cursor=${cursor}`}`)
      const page = res.json() as { items: Array<{ id: string }>, next_cursor: string | null }
      t.ok(page.items.length >= 1, `${list}: a page of ${page.items.length}, ${res.body.length} bytes`)
      t.ok(res.body.length <= 4096 || page.items.length === 1, `${list}: within the budget, or one item`)
      seen.push(...page.items.map(i => i.id))
      cursor = page.next_cursor
    } while (cursor !== null && ++pages < 50)
    const ids = Array.from({ length: 12 }, (_, k) => `${list[0]}${String(k).padStart(2, '0')}`)
    t.same(seen, list === 'tenants' ? [...ids, 't99'] : ids, `${list}: every item once, in order`)
    t.ok(pages >= 3, `${list}: ${pages + 1} pages`)
  }
})
