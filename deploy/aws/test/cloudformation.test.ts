import t from 'tap'
import { conditionHolds, evaluate, failedRules, NO_VALUE, parameterValues } from './cloudformation.js'

const template = {
  Parameters: { Name: { Type: 'String', Default: '' }, Url: { Type: 'String' } },
  Conditions: { HasName: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Name' }, ''] }] }, Bad: { Ref: 'Url' } },
  Rules: { NeedsName: { Assertions: [{ Assert: { Condition: 'HasName' } }] } },
  Resources: { Bus: { Type: 'AWS::Events::EventBus' } }
}

t.test('parameters: given values, then defaults; missing or unknown ones are errors', async t => {
  t.same(parameterValues({ template, parameters: { Url: 'u' } }), { Name: '', Url: 'u' })
  t.throws(() => parameterValues({ template, parameters: {} }), /Url has no value/)
  t.throws(() => parameterValues({ template, parameters: { Url: 'u', Nme: 'x' } }), /unknown parameters: Nme/)
})

t.test('intrinsic functions', async t => {
  const d = { template, parameters: { Url: 'https://x', Name: 'n' }, refs: { Bus: 'bus-name' } }
  t.equal(evaluate({ 'Fn::Join': ['', [{ Ref: 'Url' }, '/events']] }, d), 'https://x/events')
  t.equal(evaluate({ Ref: 'Bus' }, d), 'bus-name')
  t.equal(evaluate({ 'Fn::GetAtt': ['Bus', 'Arn'] }, d), 'Bus.Arn')
  t.equal(evaluate({ 'Fn::If': ['HasName', 'a', 'b'] }, d), 'a')
  t.equal(evaluate({ 'Fn::If': ['HasName', 'a', 'b'] }, { ...d, parameters: { Url: 'u' } }), 'b')
  t.equal(evaluate({ 'Fn::And': [{ Condition: 'HasName' }, { 'Fn::Equals': ['x', 'x'] }] }, d), true)
  t.equal(evaluate({ 'Fn::Or': [{ 'Fn::Equals': ['x', 'y'] }, { 'Fn::Equals': ['x', 'y'] }] }, d), false)
  t.equal(evaluate({ Ref: 'AWS::NoValue' }, d), NO_VALUE)
  t.same(evaluate({ A: { Ref: 'AWS::NoValue' }, B: [1, { Ref: 'AWS::NoValue' }], C: { D: null } }, d), { B: [1], C: { D: null } },
    'AWS::NoValue removes the property or the list element')
  t.throws(() => evaluate({ Ref: 'Nothing' }, d), /Ref Nothing: no value given/)
  t.throws(() => evaluate({ 'Fn::Sub': 'x' }, d), /unsupported intrinsic function Fn::Sub/)
  t.throws(() => evaluate({ 'Fn::If': ['Missing', 1, 2] }, d), /unknown condition Missing/)
  t.throws(() => evaluate({ 'Fn::Not': ['x'] }, d), /expected a boolean/)
  t.throws(() => conditionHolds('Bad', d), /expected a boolean/)
})

t.test('rules', async t => {
  t.same(failedRules({ template, parameters: { Url: 'u', Name: 'n' } }), [])
  t.same(failedRules({ template, parameters: { Url: 'u' } }), ['NeedsName'])
  t.same(failedRules({ template: { ...template, Rules: undefined }, parameters: { Url: 'u' } }), [], 'a template without rules')
  t.ok(conditionHolds('HasName', { template: { ...template, Conditions: template.Conditions }, parameters: { Url: 'u', Name: 'n' } }))
  t.throws(() => conditionHolds('HasName', { template: { ...template, Conditions: undefined }, parameters: { Url: 'u' } }), /unknown condition/)
})
