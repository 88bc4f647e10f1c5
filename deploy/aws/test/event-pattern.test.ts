import t from 'tap'
import { matches } from './event-pattern.js'

t.test('exact values, prefixes, nested fields and arrays, as EventBridge matches them', async t => {
  t.ok(matches({ 'detail-type': ['api_call'] }, { 'detail-type': 'api_call' }))
  t.notOk(matches({ 'detail-type': ['api_call'] }, { 'detail-type': 'other' }))
  t.ok(matches({ n: [1, null, true] }, { n: null }), 'null, numbers and booleans match exactly')
  t.notOk(matches({ n: [1] }, { n: '1' }), 'no type coercion')
  t.ok(matches({ source: [{ prefix: 'aws.partner/' }] }, { source: 'aws.partner/x' }))
  t.notOk(matches({ source: [{ prefix: 'aws.partner/' }] }, { source: 42 }), 'prefix matches strings only')
  t.ok(matches({ detail: { event_type: ['create_tenant'] } }, { detail: { event_type: 'create_tenant' } }))
  t.notOk(matches({ detail: { event_type: ['create_tenant'] } }, { detail: 'create_tenant' }), 'a nested pattern needs an object')
  t.notOk(matches({ detail: { event_type: ['create_tenant'] } }, { detail: null }))
  t.ok(matches({ resources: ['r2'] }, { resources: ['r1', 'r2'] }), 'an array matches when any element does')
  t.notOk(matches({ resources: ['r3'] }, { resources: ['r1', 'r2'] }))
  t.notOk(matches({ source: ['a'] }, {}), 'a missing field does not match')
  t.ok(matches({}, { source: 'a' }), 'an empty pattern matches everything')
})

t.test('operators it does not implement throw instead of passing', async t => {
  t.throws(() => matches({ source: [{ 'anything-but': 'x' }] }, { source: 'y' }), /unsupported operator/)
  t.throws(() => matches({ source: [{ prefix: 'a', suffix: 'b' }] }, { source: 'ab' }), /unsupported operator/)
  t.throws(() => matches({ source: [{ prefix: 1 }] }, { source: 'ab' }), /prefix takes a string/)
  t.throws(() => matches({ source: 'a' }, { source: 'a' }), /must be a list/)
})
