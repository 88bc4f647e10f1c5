// `npm run synth` in deploy/aws: writes the synthesized stack to template.yaml (a test fails when they differ).
// An argument writes elsewhere instead (the test uses it).
import { writeFileSync } from 'node:fs'
import { TEMPLATE_PATH, templateYaml } from '../lib/synth.js'

const path = process.argv[2] ?? TEMPLATE_PATH
writeFileSync(path, templateYaml())
console.log(`wrote ${path}`)
