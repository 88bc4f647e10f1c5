// The CDK app (cdk.json runs it): `npx cdk synth`, `npx cdk deploy --parameters ...` in deploy/aws.
import { App } from 'aws-cdk-lib/core'
import { DeliveryStack } from '../lib/delivery-stack.js'
import { STACK_NAME } from '../lib/synth.js'

const app = new App()
new DeliveryStack(app, STACK_NAME)
app.synth()
