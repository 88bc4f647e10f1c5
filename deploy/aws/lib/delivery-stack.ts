import {
  CfnCondition, CfnOutput, CfnParameter, CfnResource, CfnRule, Duration, Fn, LegacyStackSynthesizer, RemovalPolicy, SecretValue,
  Stack, Validations, type StackProps
} from 'aws-cdk-lib/core'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as events from 'aws-cdk-lib/aws-events'
import * as targets from 'aws-cdk-lib/aws-events-targets'
import * as sns from 'aws-cdk-lib/aws-sns'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'

/** Every SaaSus partner event source, and so every SaaSus event's `source`, starts with this. */
export const SAASUS_SOURCE_PREFIX = 'aws.partner/saasus.io'

/** EventBridge's own defaults, kept explicit: at most 185 attempts within 24 hours, then the dead-letter queue. */
export const RETRY_ATTEMPTS = 185
export const MAX_EVENT_AGE = Duration.hours(24)
export const DLQ_RETENTION = Duration.days(14)

/**
 * The rule's name, fixed: the FailedInvocations alarm needs it as a dimension, and a second rule of the same name
 * on the same bus (say, from the manual set-up in docs/aws.md) then fails the deployment instead of delivering
 * every event twice.
 */
export const RULE_NAME = 'saasus-to-receiver'

/**
 * Everything EventBridge needs to deliver SaaSus events to the receiver: the partner event bus (or an existing
 * one), the API-key connection, the API destination, the rule and its target (retries, dead-letter queue, role),
 * and alarms. Environment-agnostic and asset-free, so that the synthesized template deploys with
 * `aws cloudformation deploy` as well as `cdk deploy`, with no CDK bootstrap.
 */
export class DeliveryStack extends Stack {
  constructor (scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, {
      description: 'Delivers SaaSus Platform events from an EventBridge partner event bus to saasus-eventbridge-receiver',
      // No CDK bootstrap: the CLI deploys with its own credentials (no deploy or execution role to assume), the
      // template has no BootstrapVersion rule, and with no assets and under 50 KiB it goes to CloudFormation inline,
      // with no asset bucket. (BootstraplessSynthesizer would still name the bootstrap roles; the Default and
      // CliCredentials synthesizers upload the template to the bootstrap bucket.)
      synthesizer: new LegacyStackSynthesizer(),
      analyticsReporting: false,
      ...props
    })

    // ---- Parameters: names a user of the SaaSus console and of the receiver's settings recognises.
    const partnerEventSourceName = new CfnParameter(this, 'PartnerEventSourceName', {
      type: 'String',
      default: '',
      allowedPattern: '^(aws\\.partner/saasus\\.io/[A-Za-z0-9._/-]+)?$',
      constraintDescription: 'a partner event source name starting with aws.partner/saasus.io/ (or empty)',
      description: 'The SaaSus partner event source (EventBridge console, Partner event sources: aws.partner/saasus.io/...). ' +
        'A partner event bus of the same name is created. Leave empty when ExistingEventBusName is set.'
    })
    const existingEventBusName = new CfnParameter(this, 'ExistingEventBusName', {
      type: 'String',
      default: '',
      allowedPattern: '^[A-Za-z0-9._/-]{0,256}$',
      description: 'The name of an event bus that already receives SaaSus events (for example a partner event bus ' +
        'associated earlier). Leave empty to create the bus from PartnerEventSourceName.'
    })
    const receiverUrl = new CfnParameter(this, 'ReceiverUrl', {
      type: 'String',
      allowedPattern: '^https://[^\\s/?#]+(/[^\\s/?#]+)*$',
      constraintDescription: 'an https:// URL without a trailing slash, query or fragment',
      description: 'The receiver\'s public HTTPS base URL, e.g. https://receiver.example.com; events are posted to <ReceiverUrl>/events.'
    })
    const apiKeyHeader = new CfnParameter(this, 'ApiKeyHeader', {
      type: 'String',
      default: 'x-api-key',
      allowedPattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]{1,512}$',
      description: 'The header that carries the API key: the receiver\'s API_KEY_HEADER.'
    })
    const apiKeySecret = new CfnParameter(this, 'ApiKeySecret', {
      type: 'String',
      default: '',
      allowedPattern: '^[A-Za-z0-9/_+=.@:-]*$',
      description: 'Name or ARN of a Secrets Manager secret whose value (plain text, not JSON) is one of the receiver\'s ' +
        'API_KEYS. Preferred over ApiKeyValue; leave empty to use ApiKeyValue.'
    })
    const apiKeyValue = new CfnParameter(this, 'ApiKeyValue', {
      type: 'String',
      default: '',
      noEcho: true,
      maxLength: 512,
      allowedPattern: '^([^,]{16,})?$',
      constraintDescription: 'one of the receiver\'s API_KEYS: at least 16 characters, no comma (or empty)',
      description: 'One of the receiver\'s API_KEYS (hidden). Leave empty when ApiKeySecret is set.'
    })
    const rateLimit = new CfnParameter(this, 'InvocationRateLimitPerSecond', {
      type: 'Number',
      default: 50,
      minValue: 1,
      maxValue: 300,
      description: 'The most requests per second EventBridge sends to the receiver (API destination invocation rate limit).'
    })
    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      default: '',
      allowedPattern: '^([^\\s@]+@[^\\s@]+)?$',
      description: 'An e-mail address notified (through an SNS topic) when an event lands in the dead-letter queue or ' +
        'fails for good. Leave empty for alarms without notification.'
    })
    this.templateOptions.metadata = {
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [
          { Label: { default: 'SaaSus' }, Parameters: [partnerEventSourceName.logicalId, existingEventBusName.logicalId] },
          {
            Label: { default: 'Receiver' },
            Parameters: [receiverUrl.logicalId, apiKeyHeader.logicalId, apiKeySecret.logicalId, apiKeyValue.logicalId, rateLimit.logicalId]
          },
          { Label: { default: 'Alarms' }, Parameters: [alarmEmail.logicalId] }
        ]
      }
    }

    const isEmpty = (p: CfnParameter) => Fn.conditionEquals(p.valueAsString, '')
    const createBus = new CfnCondition(this, 'CreatePartnerEventBus', { expression: isEmpty(existingEventBusName) })
    const useSecret = new CfnCondition(this, 'ApiKeyFromSecret', { expression: Fn.conditionNot(isEmpty(apiKeySecret)) })
    const notify = new CfnCondition(this, 'NotifyByEmail', { expression: Fn.conditionNot(isEmpty(alarmEmail)) })

    // Exactly one of each pair: checked by CloudFormation before anything is created.
    new CfnRule(this, 'OneEventBus', {
      assertions: [{
        assert: Fn.conditionOr(
          Fn.conditionAnd(Fn.conditionNot(isEmpty(partnerEventSourceName)), isEmpty(existingEventBusName)),
          Fn.conditionAnd(isEmpty(partnerEventSourceName), Fn.conditionNot(isEmpty(existingEventBusName)))
        ),
        assertDescription: 'Set exactly one of PartnerEventSourceName and ExistingEventBusName.'
      }]
    })
    new CfnRule(this, 'OneApiKey', {
      assertions: [{
        assert: Fn.conditionOr(
          Fn.conditionAnd(Fn.conditionNot(isEmpty(apiKeySecret)), isEmpty(apiKeyValue)),
          Fn.conditionAnd(isEmpty(apiKeySecret), Fn.conditionNot(isEmpty(apiKeyValue)))
        ),
        assertDescription: 'Set exactly one of ApiKeySecret and ApiKeyValue.'
      }]
    })

    // ---- The partner event bus: its name must equal the partner event source's.
    const partnerBus = new events.CfnEventBus(this, 'PartnerEventBus', {
      name: partnerEventSourceName.valueAsString,
      eventSourceName: partnerEventSourceName.valueAsString
    })
    partnerBus.cfnOptions.condition = createBus
    const busName = Fn.conditionIf(createBus.logicalId, partnerBus.ref, existingEventBusName.valueAsString).toString()
    const bus = events.EventBus.fromEventBusName(this, 'EventBus', busName)

    // ---- Connection and API destination. The key's value is a dynamic reference or a NoEcho parameter, resolved
    // by CloudFormation at deploy time: never a literal in the template. EventBridge keeps it in a secret of its own.
    const apiKey = Fn.conditionIf(
      useSecret.logicalId,
      Fn.join('', ['{{resolve:secretsmanager:', apiKeySecret.valueAsString, ':SecretString}}']),
      apiKeyValue.valueAsString
    ).toString()
    const connection = new events.Connection(this, 'Connection', {
      description: 'API-key authorization for saasus-eventbridge-receiver',
      authorization: events.Authorization.apiKey(apiKeyHeader.valueAsString, SecretValue.unsafePlainText(apiKey))
    })
    const destination = new events.ApiDestination(this, 'ApiDestination', {
      description: 'POST <ReceiverUrl>/events',
      connection,
      endpoint: Fn.join('', [receiverUrl.valueAsString, '/events']),
      httpMethod: events.HttpMethod.POST,
      rateLimitPerSecond: rateLimit.valueAsNumber
    })

    // ---- Dead-letter queue: events that fail for good (a 4xx other than 401/407/409/429, or retries exhausted).
    // SQS-managed encryption: EventBridge can send to it without a KMS key policy.
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: DLQ_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Its messages are undelivered events: deleting the stack must not delete them.
      removalPolicy: RemovalPolicy.RETAIN
    })

    // ---- The rule: every SaaSus event, the whole event as the body (no input transformer).
    const rule = new events.Rule(this, 'Rule', {
      ruleName: RULE_NAME,
      description: 'SaaSus events to saasus-eventbridge-receiver',
      eventBus: bus,
      eventPattern: { source: events.Match.prefix(SAASUS_SOURCE_PREFIX) }
    })
    // The target gets its own role (events.amazonaws.com) allowed events:InvokeApiDestination on this destination
    // only, and adds the queue policy that lets this rule, and only it (aws:SourceArn), send to the queue.
    rule.addTarget(new targets.ApiDestination(destination, {
      retryAttempts: RETRY_ATTEMPTS,
      maxEventAge: MAX_EVENT_AGE,
      deadLetterQueue
    }))

    // ---- Alarms, optionally e-mailed.
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'saasus-eventbridge-receiver delivery alarms' })
    ;(topic.node.defaultChild as CfnResource).cfnOptions.condition = notify
    const subscription = new sns.CfnSubscription(this, 'AlarmEmailSubscription', {
      topicArn: topic.topicArn,
      protocol: 'email',
      endpoint: alarmEmail.valueAsString
    })
    subscription.cfnOptions.condition = notify
    const alarmActions = Fn.conditionIf(notify.logicalId, [topic.topicArn], Fn.ref('AWS::NoValue'))

    const deadLetters = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: 'SaaSus events are in the dead-letter queue: fix the cause, then post them again (examples/redrive-dlq.sh).',
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    // Rules on a bus other than the default one report with both dimensions, EventBusName and RuleName.
    const failed = new cloudwatch.Alarm(this, 'FailedInvocationsAlarm', {
      alarmDescription: 'EventBridge failed to deliver SaaSus events to the receiver for good.',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { EventBusName: busName, RuleName: RULE_NAME },
        statistic: 'Sum',
        period: Duration.minutes(5)
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    for (const alarm of [deadLetters, failed]) {
      (alarm.node.defaultChild as cloudwatch.CfnAlarm).alarmActions = alarmActions as unknown as string[]
    }

    // ---- CDK's template validation (synth-time cfn-lint): what it cannot see.
    const acknowledge = (id: string, reason: string) => Validations.of(this).acknowledge({ id: `CloudFormation-Validate::${id}`, reason })
    acknowledge('W1030', 'The empty defaults are never used as values: the conditions and the rules OneEventBus and ' +
      'OneApiKey select a non-empty parameter of each pair.')
    acknowledge('W1001', 'The output refers to PartnerEventBus only in the Fn::If branch taken when it exists.')
    acknowledge('W2509', 'ApiKeySecret is the name or ARN of a secret, not a secret; the key itself is ApiKeyValue (NoEcho).')

    // ---- Outputs.
    new CfnOutput(this, 'EventBusName', { value: busName, description: 'The event bus the rule is on' })
    new CfnOutput(this, 'ApiDestinationArn', { value: destination.apiDestinationArn, description: 'The API destination' })
    new CfnOutput(this, 'ConnectionName', { value: connection.connectionName, description: 'The connection (aws events update-connection rotates its key)' })
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetterQueue.queueUrl, description: 'The dead-letter queue (examples/redrive-dlq.sh)' })
  }
}
