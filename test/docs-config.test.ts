import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { ConfigSchema } from '../src/config.js'
import { firstColumn } from './helpers/markdown.js'

const ROOT = resolve(import.meta.dirname, '..')
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

/** Variables named in the first column of a Markdown "Variable" table; continuation rows (empty cell) skipped. */
function tableVariables (markdown: string): string[] {
  return firstColumn(markdown, 'Variable').filter(cell => cell !== '')
}

/** Variables .env.example sets or shows commented out (`NAME=` or `# NAME=` at the start of a line). */
function envExampleVariables (text: string): string[] {
  return [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map(m => m[1])
}

/** What `documented` lacks of `schema` and names beyond it, and names given twice. */
function compare (schema: string[], documented: string[]): { missing: string[], unknown: string[], twice: string[] } {
  return {
    missing: schema.filter(v => !documented.includes(v)),
    unknown: documented.filter(v => !schema.includes(v)),
    twice: documented.filter((v, i) => documented.indexOf(v) !== i)
  }
}

const schema = Object.keys(ConfigSchema.properties)
const clean = { missing: [], unknown: [], twice: [] }

t.test('docs/configuration.md documents exactly the variables the schema accepts', async t => {
  t.ok(schema.length >= 25, `${schema.length} variables in ConfigSchema`)
  t.same(compare(schema, tableVariables(read('docs/configuration.md'))), clean)
})

t.test('.env.example shows exactly the variables the schema accepts', async t => {
  t.same(compare(schema, envExampleVariables(read('.env.example'))), clean)
})

t.test("the README's table of the main settings names only variables documented in full", async t => {
  const readme = tableVariables(read('README.md'))
  t.ok(readme.length >= 10, `${readme.length} in the README`)
  t.same(compare(schema, readme).unknown, [], 'every one is a variable of the schema')
  t.same(readme.filter(v => !tableVariables(read('docs/configuration.md')).includes(v)), [], 'and in docs/configuration.md')
})

t.test('the checks see what is missing, unknown or repeated', async t => {
  const table = [
    '| Variable | Default | Meaning |', '|---|---|---|',
    '| `PORT` | `3000` | port |', '| | | continued |', '| `HOSTS` | x | typo |', '| `PORT` | `3000` | again |',
    '', '| Route | Auth | Answer |', '|---|---|---|', '| `GET /healthz` | none | ok |',
    '', '```', '| `CODE` | in a code block | not a table |', '```'
  ].join('\n')
  t.same(tableVariables(table), ['PORT', 'HOSTS', 'PORT'])
  t.same(compare(['PORT', 'HOST'], tableVariables(table)), { missing: ['HOST'], unknown: ['HOSTS'], twice: ['PORT'] })

  const env = '# Copy to .env.\n# PORT=3000\nHOST=0.0.0.0\n#  INDENTED=no\n# prose mentioning X=1 mid-line\nlower=1\n'
  t.same(envExampleVariables(env), ['PORT', 'HOST'])
  t.same(compare(['PORT', 'HOST', 'LOG_LEVEL'], envExampleVariables(env)).missing, ['LOG_LEVEL'])
})
