import { fileURLToPath } from 'node:url'
import { App } from 'aws-cdk-lib/core'
import type { CloudAssembly } from 'aws-cdk-lib/cx-api'
import { stringify } from 'yaml'
import { DeliveryStack } from './delivery-stack.js'

/** The stack's name in `cdk deploy` and the default in the docs' `aws cloudformation deploy` command. */
export const STACK_NAME = 'SaasusEventbridgeReceiver'

/** deploy/aws/template.yaml, committed for users without CDK. */
export const TEMPLATE_PATH = fileURLToPath(new URL('../template.yaml', import.meta.url))

/**
 * Synthesizes the stack into a fresh app (no cdk.json context, no lookups, no credentials) and returns the cloud
 * assembly. CDK validates the template on the way (cfn-lint rules; CDK_VALIDATION=false skips it) and writes
 * validation-report.json into the assembly's directory.
 */
export function synthesizeAssembly (): CloudAssembly {
  const app = new App()
  new DeliveryStack(app, STACK_NAME)
  return app.synth()
}

/** The synthesized CloudFormation template. */
export function synthesizeTemplate (): Record<string, any> {
  return synthesizeAssembly().getStackByName(STACK_NAME).template
}

/**
 * The template as committed in deploy/aws/template.yaml. Written as YAML 1.1, which quotes strings such as
 * 2012-10-17 or "yes" that a YAML 1.1 reader (CloudFormation's) would otherwise take for dates or booleans.
 */
export function templateYaml (template: Record<string, any> = synthesizeTemplate()): string {
  return '# Generated from deploy/aws/lib/delivery-stack.ts by `npm run synth` in deploy/aws. Do not edit.\n' +
    stringify(template, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false })
}
