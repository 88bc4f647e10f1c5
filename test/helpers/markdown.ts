import { existsSync, readFileSync } from 'node:fs'
import { dirname, extname, relative, resolve, sep } from 'node:path'
import GithubSlugger from 'github-slugger'
import { Lexer, type Token, type Tokens } from 'marked'

// What the documentation tests need from Markdown: links, heading anchors and tables, read with marked's
// lexer (so that code blocks and code spans are not mistaken for either) and github-slugger (the anchors
// GitHub gives headings, duplicates numbered).

const lex = (markdown: string): Token[] => new Lexer({ gfm: true }).lex(markdown)

function walk (tokens: Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token)
    if ('tokens' in token && token.tokens !== undefined) walk(token.tokens, visit)
    if (token.type === 'list') walk((token as Tokens.List).items, visit)
    if (token.type === 'table') {
      const table = token as Tokens.Table
      for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, visit)
    }
  }
}

/** The text GitHub renders for inline tokens: markup and inline HTML dropped, code spans as their code. */
function plainText (tokens: Token[]): string {
  return tokens.map(token => {
    if (token.type === 'html') return ''
    if ('tokens' in token && token.tokens !== undefined && token.tokens.length > 0) return plainText(token.tokens)
    return 'text' in token ? String(token.text) : ''
  }).join('')
}

/** The `#anchor` of every heading, as GitHub computes it. */
export function headingAnchors (markdown: string): Set<string> {
  const slugger = new GithubSlugger()
  const anchors = new Set<string>()
  walk(lex(markdown), token => {
    if (token.type === 'heading') anchors.add(slugger.slug(plainText((token as Tokens.Heading).tokens)))
  })
  return anchors
}

/** Every link and image target, in order. */
export function linkTargets (markdown: string): string[] {
  const targets: string[] = []
  walk(lex(markdown), token => {
    if (token.type === 'link' || token.type === 'image') targets.push((token as Tokens.Link).href)
  })
  return targets
}

/** The first cell of every body row of each table whose first header cell is `header`, as plain text. */
export function firstColumn (markdown: string, header: string): string[] {
  const cells: string[] = []
  for (const token of lex(markdown)) {
    if (token.type !== 'table') continue
    const table = token as Tokens.Table
    if (plainText(table.header[0].tokens) !== header) continue
    for (const row of table.rows) cells.push(plainText(row[0].tokens))
  }
  return cells
}

const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i

/**
 * The relative links and anchors of `files` (paths under `root`) that do not resolve: the file or directory
 * must exist inside `root`, and an anchor must name a heading of the Markdown file it points into.
 * Each problem reads `<file>: <target>: <why>`.
 */
export function brokenLinks (root: string, files: string[]): string[] {
  const problems: string[] = []
  const anchorsOf = new Map<string, Set<string>>()
  const anchors = (file: string): Set<string> => {
    let set = anchorsOf.get(file)
    if (set === undefined) anchorsOf.set(file, set = headingAnchors(readFileSync(file, 'utf8')))
    return set
  }
  for (const file of files) {
    const from = resolve(root, file)
    for (const target of linkTargets(readFileSync(from, 'utf8'))) {
      if (EXTERNAL.test(target)) continue
      const hash = target.indexOf('#')
      const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash))
      const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
      const to = path === '' ? from : resolve(dirname(from), path)
      const problem = (why: string): number => problems.push(`${file}: ${target}: ${why}`)
      const inside = relative(root, to)
      if (path.startsWith('/') || inside.startsWith(`..${sep}`) || inside === '..') { problem('outside the repository'); continue }
      if (!existsSync(to)) { problem('no such file'); continue }
      if (anchor === undefined) continue
      if (extname(to) !== '.md') { problem('an anchor into a file that is not Markdown'); continue }
      if (!anchors(to).has(anchor)) problem(`no heading with this anchor in ${relative(root, to)}`)
    }
  }
  return problems
}
