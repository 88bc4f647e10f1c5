import t from 'tap'
import { REDACTED, SECRET_BODY_FIELDS, redactedBeyondSecretFields, textWithoutSecrets, withoutSecrets } from '../../src/events/secret-fields.js'
import { rememberText, textOf } from '../../src/events/received-text.js'
import { quarantineCopy } from '../../src/events/quarantine-copy.js'
import { OversizedEvent } from '../../src/events/oversized.js'
import { MAX_EVENT_VALUES } from '../../src/events/json-value.js'
import { makeEvent } from '../helpers/events.js'

// SaaSus's secrets are removed by where they are (detail.event.api_key, the bodies' secret members), and
// nothing else of an item is changed: not a name, an e-mail or an attribute that looks like a secret.

const time = '2026-05-19T02:22:58Z'
const data = { name: 'Secret Garden K.K.', back_office_staff_email: 'password-reset@example.com', attributes: { client_secret: 'cs-1', api_key: 'ak-1', token: 'tk-1' } }

t.test('withoutSecrets (the inbox): api_key and the bodies\' secret members, nothing else', async t => {
  const event = {
    id: 'e', detail: {
      event_type: 'x',
      event: {
        api_key: 'saasus-key', log_id: 'l',
        request_body: { ...data, password: 'pw', identity_provider_props: { application_id: 'a', application_secret: 's' }, recaptcha_props: 'not an object' },
        response_body: { password: null, access_token: '', credentials: { id_token: 'i' } }
      }
    }
  }
  const stored = withoutSecrets(event) as any
  t.same(stored.detail.event, {
    api_key: REDACTED, log_id: 'l',
    request_body: { ...data, password: REDACTED, identity_provider_props: { application_id: 'a', application_secret: REDACTED }, recaptcha_props: 'not an object' },
    response_body: { password: null, access_token: '', credentials: REDACTED }
  }, 'names, e-mails and attributes that look like secrets are data: kept')
  t.equal(event.detail.event.api_key, 'saasus-key', 'the input is not modified')
  t.same(withoutSecrets({ detail: { event: { request_body: [{ password: 'p' }], response_body: null } } }),
    { detail: { event: { request_body: [{ password: 'p' }], response_body: null } } }, 'a body that is not an object has no secret members')
  t.same(withoutSecrets({ detail: { event: { log_id: 'l' } } }), { detail: { event: { log_id: 'l' } } }, 'nothing to remove')
  t.ok(SECRET_BODY_FIELDS.some(path => path.join('.') === 'password'))
})

t.test('textWithoutSecrets (the quarantine): every other character of the text kept', async t => {
  for (const encoding of ['string', 'object'] as const) {
    const event = makeEvent({ eventType: 'create_tenant', method: 'POST', uri: '/v1/auth/tenants', time, encoding, request: { ...data, password: 'pw' }, response: { password: 'generated', id: 't' } })
    const text = JSON.stringify(event)
    const cleaned = textWithoutSecrets(text)
    if (!cleaned.ok) throw new Error('not cleaned')
    const parsed = JSON.parse(cleaned.text)
    const call = encoding === 'string' ? JSON.parse(parsed.detail.event) : parsed.detail.event
    const bodies = encoding === 'string' ? [JSON.parse(call.request_body), JSON.parse(call.response_body)] : [call.request_body, call.response_body]
    t.equal(call.api_key, REDACTED, `${encoding}: api_key`)
    t.same(bodies, [{ ...data, password: REDACTED }, { password: REDACTED, id: 't' }], `${encoding}: the bodies' passwords, and nothing else`)
    t.notMatch(cleaned.text, /saasus-secret-api-key-sample|"pw"|generated/)
    const restored = JSON.parse(cleaned.text)
    restored.detail.event = event.detail.event
    t.same(restored, event, `${encoding}: the rest as sent`)
  }

  // Odd values stay as written: the parts of the text not edited are the same characters.
  const odd = '{ "id" : "x", "n": 1e309, "big": 12345678901234567890, "z": "a\\u0000b\\ud800", "e": "\\u00e9",' +
    '"detail": {"event": {"api_key": "k", "api_key": "k2", "request_body": null, "response_body": "  "}, "event": 3}}'
  const oddClean = textWithoutSecrets(odd)
  t.same(oddClean, { ok: true, text: odd.replace('"k"', `"${REDACTED}"`).replace('"k2"', `"${REDACTED}"`) }, 'every api_key member (JSON.parse keeps the last)')
  const escaped = '{"detail":{"event":"{\\"api_key\\":\\"k\\",\\"n\\":\\"\\\\u0000\\"}"}}'
  const escapedClean = textWithoutSecrets(escaped)
  if (!escapedClean.ok) throw new Error('not cleaned')
  t.same(JSON.parse(JSON.parse(escapedClean.text).detail.event), { api_key: REDACTED, n: '\u0000' }, 'a string written again reads back the same characters')

  t.same(textWithoutSecrets('[1,{"detail":{}}]'), { ok: true, text: '[1,{"detail":{}}]' }, 'not an object: nothing to remove')
  t.same(textWithoutSecrets('{"detail":"x","other":{}}'), { ok: true, text: '{"detail":"x","other":{}}' })
  t.same(textWithoutSecrets('{"detail":{"event":"[1,2]"}}'), { ok: true, text: '{"detail":{"event":"[1,2]"}}' }, 'nested JSON that is not an object')
  t.same(textWithoutSecrets('{}'), { ok: true, text: '{}' })
  t.same(textWithoutSecrets('{"detail":{"event":{"api_key":null,"request_body":"{\\"password\\":\\"\\"}"}}}'),
    { ok: true, text: '{"detail":{"event":{"api_key":null,"request_body":"{\\"password\\":\\"\\"}"}}}' }, 'null and "" are no secret')

  t.same(textWithoutSecrets('{"detail":{"event":"{not json api_key"}}'), { ok: false, field: '/detail/event', reason: 'is not valid JSON' })
  t.same(textWithoutSecrets('{"detail":{"event":{"request_body":"\\"{\\\\\\"password\\\\\\":1}\\""}}}'), { ok: false, field: '/detail/event/request_body', reason: 'is JSON encoded twice' })
  const many = JSON.stringify({ detail: { event: `[${new Array(MAX_EVENT_VALUES + 1).fill(0).join(',')}]` } })
  t.same(textWithoutSecrets(many), { ok: false, field: '/detail/event', reason: `holds more values than MAX_EVENT_VALUES (${MAX_EVENT_VALUES}), so it was not parsed` })
})

t.test('textOf: the text an item was parsed from, or one JSON.parse reads back as the value', async t => {
  const value = rememberText(JSON.parse('{"n": 1e309}'), '{"n": 1e309}')
  t.equal(textOf(value), '{"n": 1e309}')
  t.equal(rememberText(7, '7.0'), 7, 'a scalar is not remembered')
  t.equal(textOf({ n: Infinity, m: [-Infinity, 1], s: 'Infinity' }), '{"n":1e309,"m":[-1e309,1],"s":"Infinity"}')
  t.same(JSON.parse(textOf({ n: Infinity, z: '\u0000\ud800' })), { n: Infinity, z: '\u0000\ud800' })
  t.equal(textOf({ a: 1 }), '{"a":1}')
  t.equal(textOf(undefined), 'null')
  t.equal(textOf('x'), '"x"')
})

t.test('quarantineCopy: the original and a copy to show, or a description with the reason it cannot be replayed', async t => {
  const kept = quarantineCopy(rememberText(JSON.parse('{"id":"a","name":"a\\u0000","n":1e309}'), '{"id":"a","name":"a\\u0000","n":1e309}'), { field: '/n', message: 'bad' })
  t.same(kept, { raw: { id: 'a', name: 'a\uFFFD', n: 'Infinity' }, original: '{"id":"a","name":"a\\u0000","n":1e309}', replayRefusal: null })
  const withKey = quarantineCopy(JSON.parse('{"detail":{"event":{"api_key":"k"}}}'), { field: '', message: 'bad' })
  t.same(withKey.raw, { detail: { event: { api_key: REDACTED } } })
  t.equal(withKey.original, `{"detail":{"event":{"api_key":"${REDACTED}"}}}`)

  const notJson = quarantineCopy({ detail: { event: 'not json, api_key=k' } }, { field: '/detail/event', message: 'is not valid JSON: x' })
  t.equal(notJson.original, null)
  t.equal(notJson.replayRefusal, 'body/detail/event is not valid JSON: x; body/detail/event is not valid JSON: its secrets could not be found field by field, so it was kept as a description, not as the event')
  t.match(notJson.raw, { not_kept: notJson.replayRefusal!.split('; ')[1], bytes: 42, sha256: /^[0-9a-f]{64}$/ })
  t.notMatch(JSON.stringify(notJson.raw), 'api_key=k', 'its excerpt hides what looks like a secret')

  const oversized = new OversizedEvent(Buffer.from('{"a":[1,2,3]}'), 3)
  const description = quarantineCopy(oversized, oversized.problem)
  t.equal(description.original, null)
  t.equal(description.replayRefusal, `body ${oversized.problem.message}; kept as a description, not as the event`)
  t.match(description.raw, { not_parsed: 'more values than MAX_EVENT_VALUES', bytes: 13 })
})

t.test('redactedBeyondSecretFields: a stored event redacted by name (older versions) is told apart', async t => {
  const stored = (attributes: object) => ({ id: 'e', detail: { event: { api_key: REDACTED, request_body: { password: REDACTED, attributes }, response_body: [{ id: 1 }] } } })
  t.equal(redactedBeyondSecretFields(stored({ memo: 'x' })), false, 'only SaaSus\'s secret fields')
  t.equal(redactedBeyondSecretFields(stored({ client_secret: REDACTED })), true, 'an attribute rewritten')
  t.equal(redactedBeyondSecretFields({ not: ['an', { event: REDACTED }] }), true, 'whatever the shape')
  t.equal(redactedBeyondSecretFields('text'), false)
})
