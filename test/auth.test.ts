import t from 'tap'
import { API_KEY, buildApp, EVENTBRIDGE_HEADERS } from './helpers/app.js'
import { sample } from './helpers/events.js'

// What test/routes/events.test.ts does not already try: keys that are almost right.
t.test('almost-right keys are 401', async t => {
  const { app, logs } = await buildApp(t, { AUTH_FAILURE_LIMIT: '1000' })
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1)
  const keys = [
    flip(API_KEY, 0), flip(API_KEY, API_KEY.length - 1), flip(API_KEY, 10), // same length, one character off
    API_KEY.toUpperCase(), ` ${API_KEY}`, `${API_KEY} `, `${API_KEY},${API_KEY}`,
    `${API_KEY}\u00e9`, 'x'.repeat(8 * 1024), `Bearer ${API_KEY}`
  ]
  for (const key of keys) {
    const res = await app.inject({ method: 'POST', url: '/events', headers: { ...EVENTBRIDGE_HEADERS, 'x-api-key': key }, payload: sample('create_tenant') })
    t.equal(res.statusCode, 401, `key ${JSON.stringify(key.slice(0, 40))}`)
  }
  // The right key in the wrong header.
  for (const headers of [{ authorization: `Bearer ${API_KEY}` }, { 'x-api-key-2': API_KEY }]) {
    const res = await app.inject({ method: 'POST', url: '/events', headers: { ...EVENTBRIDGE_HEADERS, ...headers }, payload: sample('create_tenant') })
    t.equal(res.statusCode, 401, Object.keys(headers)[0])
  }
  t.notOk(logs().includes(API_KEY.slice(4)), 'neither the key nor near-misses reach the logs')
})
