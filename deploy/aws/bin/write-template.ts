// `npm run synth` in deploy/aws: writes the synthesized stack to template.yaml (a test fails when they differ).
import { writeFileSync } from 'node:fs'
import { TEMPLATE_PATH, templateYaml } from '../lib/synth.js'

writeFileSync(TEMPLATE_PATH, templateYaml())
console.log(`wrote ${TEMPLATE_PATH}`)
