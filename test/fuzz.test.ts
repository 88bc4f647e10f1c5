import t from 'tap'
import fc from 'fast-check'
import Database from 'better-sqlite3'
import { buildApp, postEvent } from './helpers/app.js'
import { sample } from './helpers/events.js'
import { sqliteFilePath } from '../src/db/engines/sqlite.js'

// Hostile bodies through the whole app: never a 5xx, never a crash, a JSON error for every refusal, and
// a refused body never changes tenants or users. A few hundred cases by default; for a longer run:
//   FUZZ_RUNS=20000 npx tap --disable-coverage test/fuzz.test.ts
// A failure prints fast-check's seed and path; FUZZ_SEED=<seed> replays it.

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)

/** A sample event with detail.event decoded, so that inner fields can be mutated. */
function base (name: 'create_tenant' | 'create_saas_user'): Record<string, any> {
  const event = sample(name)
  event.detail.event = JSON.parse(event.detail.event)
  for (const key of ['request_body', 'response_body']) event.detail.event[key] = JSON.parse(event.detail.event[key])
  return event
}

const PATHS = [
  ['id'], ['time'], ['version'], ['detail'], ['detail', 'event_type'], ['detail', 'event'], ['detail', 'trace_id'],
  ['detail', 'event', 'log_id'], ['detail', 'event', 'http_status'], ['detail', 'event', 'uri'],
  ['detail', 'event', 'request_method'], ['detail', 'event', 'request_body'], ['detail', 'event', 'response_body'],
  ['detail', 'event', 'response_body', 'id'], ['detail', 'event', 'response_body', 'name'],
  ['detail', 'event', 'response_body', 'attributes'], ['detail', 'event', 'request_body', 'email']
]
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype']

function setPath (target: Record<string, any>, path: string[], value: unknown): void {
  let node: any = target
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return
    node = node[key]
  }
  if (node !== null && typeof node === 'object') {
    if (value === undefined) delete node[path[path.length - 1]]
    else node[path[path.length - 1]] = value
  }
}

/** Re-encodes the inner JSON as strings (as SaaSus sends it since 2026), or not. */
function encode (event: Record<string, any>, asStrings: boolean): string {
  const copy = structuredClone(event)
  const inner = copy.detail?.event
  if (asStrings && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
    for (const key of ['request_body', 'response_body']) if (key in inner) inner[key] = JSON.stringify(inner[key])
    copy.detail.event = JSON.stringify(inner)
  }
  return JSON.stringify(copy)
}

const sampleName = fc.constantFrom<'create_tenant' | 'create_saas_user'>('create_tenant', 'create_saas_user')
const nested = (depth: number, leaf = '1'): string => '['.repeat(depth) + leaf + ']'.repeat(depth)
const nestedObject = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

/** Inserts `text` as the raw JSON value of one more property at the end of an object's text. */
const withRawProperty = (json: string, key: string, text: string): string => json.replace(/}$/, `,${JSON.stringify(key)}:${text}}`)

const body: fc.Arbitrary<string | Buffer> = fc.oneof(
  // Random JSON, and random text.
  fc.json({ maxDepth: 6 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  // A real event with one field replaced by anything (wrong types) or removed.
  fc.tuple(sampleName, fc.constantFrom(...PATHS), fc.option(fc.jsonValue({ maxDepth: 4 }), { nil: undefined }), fc.boolean())
    .map(([name, path, value, asStrings]) => { const e = base(name); setPath(e, path, value); return encode(e, asStrings) }),
  // Deep nesting, outside and inside the double-encoded JSON.
  fc.tuple(fc.integer({ min: 1, max: 50_000 }), fc.boolean()).map(([depth, array]) => array ? nested(depth) : nestedObject(depth)),
  fc.tuple(sampleName, fc.integer({ min: 50, max: 20_000 })).map(([name, depth]) => withRawProperty(JSON.stringify(sample(name)), 'deep', nested(depth))),
  fc.tuple(sampleName, fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('request_body', 'response_body', 'extra')).map(([name, depth, key]) => {
    const e = base(name)
    e.detail.event[key] = 'PLACEHOLDER'
    return encode(e, false).replace('"PLACEHOLDER"', nested(depth))
  }),
  fc.tuple(sampleName, fc.integer({ min: 50, max: 5_000 })).map(([name, depth]) => {
    const e = base(name)
    e.detail.event.request_body = JSON.stringify(e.detail.event.request_body).replace(/}$/, `,"deep":${nestedObject(depth)}}`)
    e.detail.event = JSON.stringify(e.detail.event)
    return JSON.stringify(e)
  }),
  // Huge strings where short ones are expected.
  fc.tuple(sampleName, fc.constantFrom(...PATHS), fc.integer({ min: 1_000, max: 1_500_000 }), fc.boolean())
    .map(([name, path, length, asStrings]) => { const e = base(name); setPath(e, path, 'x'.repeat(length)); return encode(e, asStrings) }),
  // Invalid UTF-8 bytes spliced into a real event.
  fc.tuple(sampleName, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }).map(bytes => Buffer.from([0xff, ...bytes, 0xc3, 0x28])))
    .map(([name, at, bad]) => {
      const text = Buffer.from(JSON.stringify(sample(name)))
      const i = at % text.length
      return Buffer.concat([text.subarray(0, i), bad, text.subarray(i)])
    }),
  // __proto__, constructor and prototype keys, outside and inside the inner JSON.
  fc.tuple(sampleName, fc.constantFrom(...HOSTILE_KEYS), fc.constantFrom('outer', 'detail', 'inner', 'body'), fc.jsonValue({ maxDepth: 2 }))
    .map(([name, key, where, value]) => {
      const raw = `{${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'},"admin":true}`
      const e = base(name)
      if (where === 'outer') return withRawProperty(encode(e, true), key, raw)
      if (where === 'detail') { e.detail.PLACEHOLDER = 1; return encode(e, true).replace('"PLACEHOLDER":1', `${JSON.stringify(key)}:${raw}`) }
      if (where === 'inner') { e.detail.event.PLACEHOLDER = 1; e.detail.event = JSON.stringify(e.detail.event).replace('"PLACEHOLDER":1', `${JSON.stringify(key)}:${raw}`); return JSON.stringify(e) }
      e.detail.event.response_body = JSON.stringify(e.detail.event.response_body).replace(/}$/, `,${JSON.stringify(key)}:${raw}}`)
      e.detail.event = JSON.stringify(e.detail.event)
      return JSON.stringify(e)
    }),
  // Duplicated keys: which one wins must not matter for safety.
  fc.tuple(sampleName, fc.constantFrom('id', 'time', 'detail'), fc.jsonValue({ maxDepth: 2 }))
    .map(([name, key, value]) => withRawProperty(JSON.stringify(sample(name)), key, JSON.stringify(value) ?? 'null'))
)

t.test('hostile bodies: only 4xx with a JSON error (or 200), and refused bodies change nothing', async t => {
  const { app, config } = await buildApp(t, { LOG_LEVEL: 'silent' })
  const db = new Database(sqliteFilePath(config.DATABASE_URL), { readonly: true })
  t.teardown(() => db.close())
  const state = (): string => JSON.stringify([db.prepare('SELECT * FROM tenants ORDER BY id').all(), db.prepare('SELECT * FROM users ORDER BY id').all()])

  const seen = new Map<number, number>()
  await fc.assert(fc.asyncProperty(body, async payload => {
    const before = state()
    const res = await postEvent(app, payload as string)
    seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
    if (res.statusCode >= 500) throw new Error(`${res.statusCode}: ${res.body}`)
    if (res.statusCode === 200) return
    if (![400, 413, 415].includes(res.statusCode)) throw new Error(`unexpected status ${res.statusCode}: ${res.body}`)
    if (!String(res.headers['content-type']).startsWith('application/json')) throw new Error(`not JSON: ${res.body}`)
    const error = res.json()
    if (error.statusCode !== res.statusCode || typeof error.message !== 'string') throw new Error(`bad error shape: ${res.body}`)
    if (state() !== before) throw new Error(`a refused body (${res.statusCode}) changed tenants or users`)
  }), { numRuns: RUNS, seed: SEED })

  t.comment(`statuses seen: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.ok((seen.get(400) ?? 0) > 0, 'bodies are refused with 400')
  t.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype is untouched')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still alive')
})

t.test('deep nesting is refused with 400 naming where, in the envelope and in the inner JSON', async t => {
  const { app } = await buildApp(t)
  // 5,000 levels: deep enough to overflow recursive code, and fewer values than MAX_EVENT_VALUES (an event
  // holding more is refused before it is parsed, whatever its depth).
  const outer = await postEvent(app, withRawProperty(JSON.stringify(sample('create_tenant')), 'deep', nested(5_000)))
  t.equal(outer.statusCode, 400)
  t.match(outer.json(), { field: /^\/deep(\/0)+$/, message: /nested deeper than 64 levels/ })
  const e = base('create_tenant')
  e.detail.event.extra = 'PLACEHOLDER'
  const inner = await postEvent(app, encode(e, false).replace('"PLACEHOLDER"', nested(5_000)))
  t.equal(inner.statusCode, 400)
  t.match(inner.json().field, /^\/detail\/event\/extra\//)
  const b = base('create_tenant')
  b.detail.event.response_body = { ...b.detail.event.response_body, 'a/b~c': JSON.parse(nestedObject(100)) }
  const inBody = await postEvent(app, encode(b, true))
  t.equal(inBody.statusCode, 400)
  t.match(inBody.json().field, /^\/detail\/event\/response_body\/a~1b~0c\/a\//)
  t.equal((await postEvent(app, withRawProperty(JSON.stringify(sample('create_tenant')), 'ok', nested(60)))).statusCode, 200, '60 levels are fine')
})
