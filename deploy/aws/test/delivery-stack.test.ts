import { readFileSync } from 'node:fs'
import t from 'tap'
import { Template } from 'aws-cdk-lib/assertions'
import { synthesizeTemplate } from '../lib/synth.js'
import { DLQ_RETENTION, RETRY_ATTEMPTS, RULE_NAME, SAASUS_SOURCE_PREFIX } from '../lib/delivery-stack.js'
import { conditionHolds, evaluate, failedRules, NO_VALUE, type Deployment } from './cloudformation.js'
import { matches } from './event-pattern.js'

// CDK's template validation runs once, in template.test.ts.
process.env.CDK_VALIDATION = 'false'
const template = synthesizeTemplate()
const assert = Template.fromJSON(template)

/** The logical id of the only resource of a type. */
function only (type: string): string {
  const ids = Object.keys(assert.findResources(type))
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`)
  return ids[0]
}
const bus = only('AWS::Events::EventBus')
const connection = only('AWS::Events::Connection')
const destination = only('AWS::Events::ApiDestination')
const rule = only('AWS::Events::Rule')
const queue = only('AWS::SQS::Queue')
const role = only('AWS::IAM::Role')
const topic = only('AWS::SNS::Topic')
const resource = (id: string) => template.Resources[id]

const sourceName = 'aws.partner/saasus.io/0e2b1a40-1c7f-4a9c-9f4e-2f0d0b1c2d3e-1/event'
const receiverUrl = 'https://receiver.example.com'
const deploy = (parameters: Record<string, string>): Deployment =>
  ({ template, parameters: { ReceiverUrl: receiverUrl, ...parameters }, refs: { [bus]: sourceName, [topic]: 'alarm-topic-arn' } })

t.test('exactly these resources, no CDK bootstrap or metadata', async t => {
  t.same(Object.values<any>(template.Resources).map(r => r.Type).sort(), [
    'AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Alarm', 'AWS::Events::ApiDestination', 'AWS::Events::Connection',
    'AWS::Events::EventBus', 'AWS::Events::Rule', 'AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::SNS::Subscription',
    'AWS::SNS::Topic', 'AWS::SQS::Queue', 'AWS::SQS::QueuePolicy'
  ])
  t.notOk('BootstrapVersion' in template.Parameters, 'no BootstrapVersion parameter')
  t.same(Object.keys(template.Rules).sort(), ['OneApiKey', 'OneEventBus'], 'no CheckBootstrapVersion rule')
  t.notOk(Object.values<any>(template.Resources).some(r => r.Metadata !== undefined), 'no path metadata')
  // Above 51,200 bytes `cdk deploy` would need the bootstrap bucket to upload the template.
  t.ok(JSON.stringify(template).length < 51200, 'small enough for CloudFormation to take inline')
})

t.test('parameters a user recognises, with defaults and constraints', async t => {
  t.same(Object.keys(template.Parameters), [
    'PartnerEventSourceName', 'ExistingEventBusName', 'ReceiverUrl', 'ApiKeyHeader', 'ApiKeySecret', 'ApiKeyValue',
    'InvocationRateLimitPerSecond', 'AlarmEmail'
  ])
  const p = template.Parameters
  t.equal(p.ApiKeyHeader.Default, 'x-api-key', 'the receiver\'s default API_KEY_HEADER')
  t.equal(p.InvocationRateLimitPerSecond.Type, 'Number')
  t.equal(p.InvocationRateLimitPerSecond.Default, 50)
  t.equal(p.ReceiverUrl.Default, undefined, 'the receiver URL is required')
  // The patterns are checked by CloudFormation before anything is created; their syntax is also JavaScript's.
  const accepts = (name: string, value: string) => new RegExp(p[name].AllowedPattern).test(value)
  t.ok(accepts('PartnerEventSourceName', sourceName))
  t.ok(accepts('PartnerEventSourceName', ''))
  t.notOk(accepts('PartnerEventSourceName', 'aws.partner/example.com/123/event'), 'only SaaSus sources')
  t.ok(accepts('ReceiverUrl', receiverUrl))
  t.ok(accepts('ReceiverUrl', 'https://example.com/saasus/receiver'))
  t.notOk(accepts('ReceiverUrl', 'http://receiver.example.com'), 'API destinations need HTTPS')
  t.notOk(accepts('ReceiverUrl', 'https://receiver.example.com/'), 'no trailing slash (it would post to //events)')
  t.notOk(accepts('ReceiverUrl', 'https://receiver.example.com/events?x=1'))
  t.ok(accepts('ApiKeyHeader', 'x-api-key'))
  t.notOk(accepts('ApiKeyHeader', 'x api key'), 'a header name is a token')
  t.ok(accepts('ApiKeyValue', 'k'.repeat(16)))
  t.notOk(accepts('ApiKeyValue', 'k'.repeat(15)), 'the receiver rejects keys shorter than 16 characters')
  t.notOk(accepts('ApiKeyValue', 'a'.repeat(16) + ',b'), 'a comma would split the key in API_KEYS')
  t.ok(accepts('ApiKeySecret', 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:saasus/receiver-AbCdEf'))
  t.ok(accepts('AlarmEmail', 'ops@example.com'))
  t.notOk(accepts('AlarmEmail', 'ops'))
})

t.test('the partner event bus, or an existing bus', async t => {
  assert.hasResource('AWS::Events::EventBus', {
    Condition: 'CreatePartnerEventBus',
    Properties: { Name: { Ref: 'PartnerEventSourceName' }, EventSourceName: { Ref: 'PartnerEventSourceName' } }
  })
  const created = deploy({ PartnerEventSourceName: sourceName, ApiKeyValue: 'k'.repeat(32) })
  t.ok(conditionHolds('CreatePartnerEventBus', created))
  t.equal(evaluate(resource(rule).Properties.EventBusName, created), sourceName, 'the rule is on the new bus')
  t.same(failedRules(created), [])

  const existing = deploy({ ExistingEventBusName: 'saasus-bus', ApiKeyValue: 'k'.repeat(32) })
  t.notOk(conditionHolds('CreatePartnerEventBus', existing), 'no bus is created')
  t.equal(evaluate(resource(rule).Properties.EventBusName, existing), 'saasus-bus')
  t.equal(evaluate(template.Outputs.EventBusName.Value, existing), 'saasus-bus')
  t.same(failedRules(existing), [])

  t.same(failedRules(deploy({ ApiKeyValue: 'k'.repeat(32) })), ['OneEventBus'], 'neither')
  t.same(failedRules(deploy({ PartnerEventSourceName: sourceName, ExistingEventBusName: 'b', ApiKeyValue: 'k'.repeat(32) })),
    ['OneEventBus'], 'both')
})

t.test('the connection: API_KEY, key name = API_KEY_HEADER, value from a secret or a NoEcho parameter', async t => {
  assert.hasResourceProperties('AWS::Events::Connection', {
    AuthorizationType: 'API_KEY',
    AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: { Ref: 'ApiKeyHeader' } } }
  })
  t.equal(template.Parameters.ApiKeyValue.NoEcho, true)
  t.equal(template.Parameters.ApiKeyValue.Default, '', 'no key as a default')
  const value = resource(connection).Properties.AuthParameters.ApiKeyAuthParameters.ApiKeyValue
  const secretArn = 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:saasus/receiver-AbCdEf'
  t.equal(evaluate(value, deploy({ PartnerEventSourceName: sourceName, ApiKeySecret: secretArn })),
    `{{resolve:secretsmanager:${secretArn}:SecretString}}`, 'a dynamic reference, resolved by CloudFormation')
  t.equal(evaluate(value, deploy({ PartnerEventSourceName: sourceName, ApiKeySecret: 'saasus/receiver' })),
    '{{resolve:secretsmanager:saasus/receiver:SecretString}}', 'a secret\'s name works too')
  // The only other way a value gets there: a Ref to the NoEcho parameter.
  t.same(value['Fn::If'][2], { Ref: 'ApiKeyValue' })
  t.same(failedRules(deploy({ PartnerEventSourceName: sourceName })), ['OneApiKey'], 'no key at all is refused')
  t.same(failedRules(deploy({ PartnerEventSourceName: sourceName, ApiKeySecret: 's', ApiKeyValue: 'k'.repeat(32) })),
    ['OneApiKey'], 'both is refused')
})

t.test('no secret in clear anywhere in the template', async t => {
  const planted = 'PLANTED-api-key-5f0c2e9b7a'
  const before = { ...process.env }
  process.env.API_KEYS = planted
  process.env.API_KEY = planted
  process.env.ApiKeyValue = planted
  try {
    const text = JSON.stringify(synthesizeTemplate())
    t.notOk(text.includes(planted), 'a key in the environment does not reach the template')
  } finally {
    process.env = before
  }
  const text = JSON.stringify(template)
  t.notMatch(text, /\{\{resolve:secretsmanager:[^}$]*[A-Za-z0-9]{16,}/, 'no literal secret id baked into a reference')
  const noEcho = Object.entries<any>(template.Parameters).filter(([, p]) => p.NoEcho === true).map(([n]) => n)
  t.same(noEcho, ['ApiKeyValue'])
  // A NoEcho parameter printed by an output would be in clear in the console: none is.
  t.notMatch(JSON.stringify(template.Outputs), /ApiKeyValue|ApiKeySecret/)
  // Every string in the template is CloudFormation syntax or a short constant, never a long random value.
  const strings: string[] = []
  const walk = (n: unknown): void => {
    if (typeof n === 'string') strings.push(n)
    else if (n !== null && typeof n === 'object') Object.values(n).forEach(walk)
  }
  walk(template)
  t.same(strings.filter(s => /^[A-Za-z0-9+/=_-]{24,}$/.test(s) && /\d/.test(s) && !/^[A-Z][A-Za-z]+[0-9A-F]{8}$/.test(s)), [],
    'no key-like string (logical ids aside)')
})

t.test('the API destination: POST <ReceiverUrl>/events, rate limit parameter', async t => {
  assert.hasResourceProperties('AWS::Events::ApiDestination', {
    HttpMethod: 'POST',
    ConnectionArn: { 'Fn::GetAtt': [connection, 'Arn'] },
    InvocationRateLimitPerSecond: { Ref: 'InvocationRateLimitPerSecond' }
  })
  t.equal(evaluate(resource(destination).Properties.InvocationEndpoint, deploy({ PartnerEventSourceName: sourceName, ApiKeyValue: 'k'.repeat(16) })),
    'https://receiver.example.com/events')
})

t.test('the rule: SaaSus\'s source, whole event, retries and the dead-letter queue', async t => {
  const props = resource(rule).Properties
  t.equal(props.Name, RULE_NAME)
  t.equal(props.State, 'ENABLED')
  t.same(props.EventPattern, { source: [{ prefix: SAASUS_SOURCE_PREFIX }] })
  t.equal(props.Targets.length, 1)
  t.same(props.Targets[0], {
    Id: 'Target0',
    Arn: { 'Fn::GetAtt': [destination, 'Arn'] },
    RoleArn: { 'Fn::GetAtt': [role, 'Arn'] },
    RetryPolicy: { MaximumRetryAttempts: RETRY_ATTEMPTS, MaximumEventAgeInSeconds: 24 * 3600 },
    DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } }
  }, 'no Input, InputPath or InputTransformer: the whole event is the body')
  t.equal(RETRY_ATTEMPTS, 185)
})

t.test('the event pattern, evaluated against the SaaSus samples and other sources', async t => {
  const pattern = resource(rule).Properties.EventPattern
  for (const sample of ['create_tenant.json', 'create_saas_user.json']) {
    const event = JSON.parse(readFileSync(new URL(`../../../examples/${sample}`, import.meta.url), 'utf8'))
    t.ok(matches(pattern, event), `${sample} (source ${event.source as string}) matches`)
    t.notOk(matches(pattern, { ...event, source: 'aws.partner/example.com/123/event' }), 'another partner\'s source does not')
    t.notOk(matches(pattern, { ...event, source: 'aws.events' }), 'an AWS source does not')
    t.notOk(matches(pattern, { ...event, source: 'my.aws.partner/saasus.io/x' }), 'prefix, not substring')
    const { source, ...withoutSource } = event
    t.notOk(matches(pattern, withoutSource), 'an event without a source does not')
  }
})

t.test('the dead-letter queue: 14 days, encrypted, only this rule may send', async t => {
  assert.hasResource('AWS::SQS::Queue', {
    Properties: { MessageRetentionPeriod: DLQ_RETENTION.toSeconds(), SqsManagedSseEnabled: true },
    DeletionPolicy: 'Retain'
  })
  t.equal(DLQ_RETENTION.toSeconds(), 14 * 24 * 3600)
  const statements = Object.values(assert.findResources('AWS::SQS::QueuePolicy'))[0].Properties.PolicyDocument.Statement
  const allow = statements.filter((s: any) => s.Effect === 'Allow').map(({ Sid, ...rest }: any) => rest)
  t.same(allow, [{
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
    Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } }
  }], 'one Allow: SendMessage from EventBridge, for this rule only')
  t.same(statements.filter((s: any) => s.Effect !== 'Allow'), [{
    Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
    Condition: { Bool: { 'aws:SecureTransport': 'false' } }
  }], 'and a Deny of plain-HTTP access')
})

t.test('the role: assumed by EventBridge, only events:InvokeApiDestination on this destination', async t => {
  t.same(resource(role).Properties, {
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }]
    }
  }, 'no managed policies, no inline policies beyond the one below')
  const policies = Object.values<any>(assert.findResources('AWS::IAM::Policy'))
  t.equal(policies.length, 1)
  t.same(policies[0].Properties.Roles, [{ Ref: role }])
  t.same(policies[0].Properties.PolicyDocument.Statement, [
    { Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: { 'Fn::GetAtt': [destination, 'Arn'] } }
  ])
})

t.test('no wildcard in any Allow statement', async t => {
  const allows: any[] = []
  const walk = (n: any): void => {
    if (Array.isArray(n)) n.forEach(walk)
    else if (n !== null && typeof n === 'object') {
      if (n.Effect === 'Allow') allows.push(n)
      Object.values(n).forEach(walk)
    }
  }
  walk(template.Resources)
  t.equal(allows.length, 3, 'the trust policy, the role\'s policy, the queue policy')
  for (const s of allows) {
    t.notMatch(JSON.stringify([s.Action, s.Resource ?? null, s.Principal]), /\*/, JSON.stringify(s.Action))
  }
})

t.test('alarms on dead letters and failed invocations, e-mailed when AlarmEmail is set', async t => {
  assert.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0
  })
  assert.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/Events',
    MetricName: 'FailedInvocations',
    Statistic: 'Sum',
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0
  })
  const failed = Object.values<any>(assert.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'FailedInvocations' } }))[0]
  const existing = deploy({ ExistingEventBusName: 'saasus-bus', ApiKeyValue: 'k'.repeat(16) })
  t.same(evaluate(failed.Properties.Dimensions, existing), [
    { Name: 'EventBusName', Value: 'saasus-bus' }, { Name: 'RuleName', Value: RULE_NAME }
  ], 'a rule on a bus other than the default reports with both dimensions')

  assert.hasResource('AWS::SNS::Topic', { Condition: 'NotifyByEmail' })
  assert.hasResource('AWS::SNS::Subscription', {
    Condition: 'NotifyByEmail',
    Properties: { Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' }, TopicArn: { Ref: topic } }
  })
  const withEmail = deploy({ PartnerEventSourceName: sourceName, ApiKeyValue: 'k'.repeat(16), AlarmEmail: 'ops@example.com' })
  const withoutEmail = deploy({ PartnerEventSourceName: sourceName, ApiKeyValue: 'k'.repeat(16) })
  for (const alarm of Object.values<any>(assert.findResources('AWS::CloudWatch::Alarm'))) {
    t.same((evaluate(alarm.Properties, withEmail) as any).AlarmActions, ['alarm-topic-arn'])
    t.equal((evaluate(alarm.Properties, withoutEmail) as any).AlarmActions, undefined, 'no action without an address')
  }
  t.ok(conditionHolds('NotifyByEmail', withEmail))
  t.notOk(conditionHolds('NotifyByEmail', withoutEmail), 'no topic without an address')
})

t.test('outputs: bus name, destination ARN, dead-letter queue URL, connection name', async t => {
  t.same(Object.keys(template.Outputs).sort(), ['ApiDestinationArn', 'ConnectionName', 'DeadLetterQueueUrl', 'EventBusName'])
  t.same(template.Outputs.ConnectionName.Value, { Ref: connection })
  t.same(template.Outputs.ApiDestinationArn.Value, { 'Fn::GetAtt': [destination, 'Arn'] })
  t.same(template.Outputs.DeadLetterQueueUrl.Value, { Ref: queue })
  t.equal(evaluate(template.Outputs.EventBusName.Value, deploy({ PartnerEventSourceName: sourceName, ApiKeyValue: 'k'.repeat(16) })), sourceName)
  t.equal(NO_VALUE.description, 'AWS::NoValue')
})
