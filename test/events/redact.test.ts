import t from 'tap'
import { REDACTED, redactUntrusted, storableCopy } from '../../src/events/redact.js'

// Copies of refused input for display: storable always, and with `redactUntrusted` anything secret-like hidden.

t.test('redactUntrusted hides secret-named values at any depth, and strings that mention a secret', async t => {
  const input = {
    api_key: 'k', apiKey: 'k2', detail: { request_body: { email: 'a@b', password: 'p', new_password: 'n', temporary: true } },
    tokens: [{ access_token: 'a', refresh_token: 'r', id_token: 'i', token_type: 'Bearer' }],
    client_secret: 's', password: null, empty_password: '', note: 'my password is hunter2', nested: '{"secret":"x","a":1}'
  }
  t.same(redactUntrusted(input), {
    api_key: REDACTED, apiKey: REDACTED, detail: { request_body: { email: 'a@b', password: REDACTED, new_password: REDACTED, temporary: true } },
    tokens: [{ access_token: REDACTED, refresh_token: REDACTED, id_token: REDACTED, token_type: 'Bearer' }],
    client_secret: REDACTED, password: null, empty_password: '', note: `${REDACTED} (22 characters that mention a secret)`, nested: `{"secret":"${REDACTED}","a":1}`
  })
  t.equal(input.api_key, 'k', 'the input is not modified')
})

t.test('storableCopy keeps every value but what no column can hold', async t => {
  const input = JSON.parse('{"client_secret":"s","name":"Secret Garden K.K.","n":[1e309,-1e309],"z":"a\\u0000b","lone":"\\ud800","__proto__":1,"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}')
  const copy = storableCopy(input) as Record<string, unknown>
  t.equal(copy.client_secret, 's')
  t.equal(copy.name, 'Secret Garden K.K.')
  t.same(copy.n, ['Infinity', '-Infinity'])
  t.equal(copy.z, 'a\uFFFDb')
  t.equal(copy.lone, '\uFFFD')
  t.ok(Object.hasOwn(copy, '__proto__'), '__proto__ stays a plain property')
  t.match(JSON.stringify(copy.deep), 'nested deeper than 64 levels: not kept')
})
