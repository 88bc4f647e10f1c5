import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { brokenLinks, headingAnchors, linkTargets } from './helpers/markdown.js'
import { tempDir } from './helpers/app.js'

const ROOT = resolve(import.meta.dirname, '..')

/** README.md and every Markdown file in docs/, as they are in the repository. */
const documentation = (root: string): string[] =>
  ['README.md', ...readdirSync(join(root, 'docs')).filter(f => f.endsWith('.md')).sort().map(f => `docs/${f}`)]

t.test('every relative link and anchor in README.md and docs/ resolves', async t => {
  const files = documentation(ROOT)
  t.ok(files.length >= 8, `README and the docs files: ${files.join(', ')}`)
  t.ok(files.reduce((n, f) => n + linkTargets(readFileSync(join(ROOT, f), 'utf8')).length, 0) > 20, 'the check sees the links')
  t.same(brokenLinks(ROOT, files), [])
})

t.test('anchors are the ones GitHub derives from headings', async t => {
  const anchors = headingAnchors([
    '# Configuration',
    '## `POST /events`',
    '### Rotating the API key',
    '## Load, shutdown, logs and retention',
    '## Issue 5\'s targets: *where* they stand',
    '## Reads',
    '## Reads',
    '```sh',
    '# not a heading',
    '```',
    'Setext heading',
    '---'
  ].join('\n'))
  t.same([...anchors], [
    'configuration', 'post-events', 'rotating-the-api-key', 'load-shutdown-logs-and-retention',
    'issue-5s-targets-where-they-stand', 'reads', 'reads-1', 'setext-heading'
  ])
})

t.test('broken links are found', async t => {
  const root = tempDir(t)
  mkdirSync(join(root, 'docs'))
  writeFileSync(join(root, 'README.md'), [
    '# Title', '', '## Quick start', '',
    '[ok](docs/a.md) [ok](docs/a.md#part-one) [ok](#quick-start) [ok](docs) [external](https://example.com/x.md)',
    '[mail](mailto:someone@example.com) ![ok](docs/chart.svg) [ok][ref]',
    '',
    '`[not a link](nowhere.md)`',
    '',
    '```md', '[not a link either](nowhere.md)', '```',
    '',
    '[gone](docs/missing.md) [bad anchor](docs/a.md#part-three) [self](#quick-starts)',
    '[escape](../outside.md) [absolute](/etc/passwd) [svg anchor](docs/chart.svg#x) [bad ref][broken]',
    '',
    '[ref]: docs/a.md#part-two',
    '[broken]: docs/b.md'
  ].join('\n'))
  writeFileSync(join(root, 'docs', 'a.md'), '# A\n\n## Part one\n\n## Part two\n\n[back](../README.md#title) [up](../README.md#nope)\n')
  writeFileSync(join(root, 'docs', 'chart.svg'), '<svg/>')
  writeFileSync(join(root, 'docs', 'with space.md'), '# Spaced\n\n[me](with%20space.md#spaced)\n')

  t.same(brokenLinks(root, documentation(root)), [
    'README.md: docs/missing.md: no such file',
    'README.md: docs/a.md#part-three: no heading with this anchor in docs/a.md',
    'README.md: #quick-starts: no heading with this anchor in README.md',
    'README.md: ../outside.md: outside the repository',
    'README.md: /etc/passwd: outside the repository',
    'README.md: docs/chart.svg#x: an anchor into a file that is not Markdown',
    'README.md: docs/b.md: no such file',
    'docs/a.md: ../README.md#nope: no heading with this anchor in README.md'
  ])
})
