import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { STACK_NAME, synthesizeAssembly, TEMPLATE_PATH, templateYaml } from '../lib/synth.js'

const run = promisify(execFile)
const here = new URL('..', import.meta.url)
const committed = readFileSync(TEMPLATE_PATH, 'utf8')

t.test('template.yaml is the stack as synthesized now, and CDK\'s template validation finds nothing', async t => {
  delete process.env.CDK_VALIDATION
  const assembly = synthesizeAssembly()
  const template = assembly.getStackByName(STACK_NAME).template
  t.ok(templateYaml(template) === committed, 'deploy/aws/template.yaml is out of date: run `npm run synth` in deploy/aws and commit it')
  t.same(parse(committed, { version: '1.1' }), template, 'and reads back as the same template (YAML 1.1, as CloudFormation reads it)')
  t.match(committed, /Version: "2012-10-17"/, 'policy versions quoted: a YAML 1.1 reader would take 2012-10-17 for a date')

  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'))
  const [cfnValidate] = report.pluginReports
  t.equal(cfnValidate.pluginName, 'CloudFormation Validate')
  t.equal(cfnValidate.conclusion, 'success')
  t.same(cfnValidate.violations, [], 'no error or warning')
  // The warnings acknowledged in delivery-stack.ts (with reasons), and nothing else.
  t.same([...new Set(cfnValidate.suppressedViolations.map((v: any) => v.ruleName))].sort(), ['W1001', 'W1030', 'W2509'])
})

t.test('npm run synth writes the same file', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'synth-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'template.yaml')
  await run(process.execPath, ['--import=tsx', 'bin/write-template.ts', out], { cwd: here, env: { ...process.env, CDK_VALIDATION: 'false' } })
  t.ok(readFileSync(out, 'utf8') === committed, 'bin/write-template.ts output equals template.yaml')
})

t.test('`cdk synth` (the CLI running the app in cdk.json) gives the same template, with no context file or credentials', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cdk-out-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.notOk(readdirSync(here).includes('cdk.context.json'), 'no cdk.context.json')
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_VALIDATION: 'false' } // validated once, in the first test
  for (const name of Object.keys(env)) if (name.startsWith('AWS_')) delete env[name]
  const cli = fileURLToPath(new URL('node_modules/aws-cdk/bin/cdk', here))
  await run(process.execPath, [cli, 'synth', '--quiet', '--output', dir], { cwd: here, env })
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
  const stack = manifest.artifacts[STACK_NAME]
  t.equal(stack.environment, 'aws://unknown-account/unknown-region', 'environment-agnostic')
  t.equal(stack.properties.assumeRoleArn, undefined, 'no bootstrap role to assume: the CLI\'s credentials deploy it')
  t.equal(stack.properties.cloudFormationExecutionRoleArn, undefined)
  t.same(Object.values<any>(manifest.artifacts).filter(a => a.type === 'cdk:asset-manifest'), [], 'no assets to upload')
  t.same(JSON.parse(readFileSync(join(dir, stack.properties.templateFile), 'utf8')), parse(committed, { version: '1.1' }),
    'equal to template.yaml (cdk.json turns off path metadata)')
})
