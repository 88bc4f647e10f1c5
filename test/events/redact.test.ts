import t from 'tap'
import { REDACTED, redactSecrets } from '../../src/events/redact.js'

t.test('secret-named values are replaced at any depth', async t => {
  const input = {
    api_key: 'k', apiKey: 'k2', detail: { request_body: { email: 'a@b', password: 'p', new_password: 'n', temporary: true } },
    tokens: [{ access_token: 'a', refresh_token: 'r', id_token: 'i', token_type: 'Bearer' }],
    client_secret: 's', password: null, empty_password: ''
  }
  t.same(redactSecrets(input), {
    api_key: REDACTED, apiKey: REDACTED, detail: { request_body: { email: 'a@b', password: REDACTED, new_password: REDACTED, temporary: true } },
    tokens: [{ access_token: REDACTED, refresh_token: REDACTED, id_token: REDACTED, token_type: 'Bearer' }],
    client_secret: REDACTED, password: null, empty_password: ''
  })
  t.equal(input.api_key, 'k', 'the input is not modified')
  t.equal(redactSecrets('text'), 'text')
  t.equal(redactSecrets(null), null)
})
