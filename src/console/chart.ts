import type { CountRow } from '../db/console/console-reads.js'

// The overview's chart, drawn here as SVG text (no chart library, no CDN): one horizontal bar per event
// type, split by outcome. Colours come from the stylesheet's classes (`outcome-<name>`), so the strict
// Content-Security-Policy needs no inline style. Every text is escaped.

const OUTCOMES = ['applied', 'duplicate', 'stale', 'ignored', 'rejected', 'unconfirmed'] as const

export const escapeXml = (text: string): string => text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

const BAR = 18
const GAP = 10
const LABEL = 190
const WIDTH = 640
const AXIS = 24

/** A known outcome's class; anything else is drawn as `other`. */
const outcomeClass = (outcome: string): string => (OUTCOMES as readonly string[]).includes(outcome) ? outcome : 'other'

/**
 * A stacked bar chart of `counts` (per event type and outcome), with a title and a text equivalent for
 * screen readers; an empty chart says so.
 */
export function countsChart (title: string, counts: CountRow[]): string {
  const types = [...new Set(counts.map(c => c.event_type))]
  const totals = new Map(types.map(t => [t, counts.filter(c => c.event_type === t).reduce((n, c) => n + c.count, 0)]))
  const max = Math.max(1, ...totals.values())
  const height = AXIS + Math.max(1, types.length) * (BAR + GAP)
  const scale = (WIDTH - LABEL - 60) / max
  const parts: string[] = []
  types.forEach((type, row) => {
    const y = AXIS + row * (BAR + GAP)
    parts.push(`<text class="label" x="${LABEL - 8}" y="${y + BAR - 5}" text-anchor="end">${escapeXml(type)}</text>`)
    let x = LABEL
    for (const c of counts.filter(c => c.event_type === type)) {
      const w = Math.max(2, c.count * scale)
      parts.push(`<rect class="outcome-${outcomeClass(c.outcome)}" x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR}">` +
        `<title>${escapeXml(`${type}: ${c.count} ${c.outcome}`)}</title></rect>`)
      x += w
    }
    parts.push(`<text class="value" x="${(x + 6).toFixed(1)}" y="${y + BAR - 5}">${totals.get(type)!}</text>`)
  })
  if (types.length === 0) parts.push(`<text class="label" x="${LABEL}" y="${AXIS + BAR - 5}">no events</text>`)
  const summary = types.length === 0
    ? 'no events'
    : types.map(t => `${t}: ${counts.filter(c => c.event_type === t).map(c => `${c.count} ${c.outcome}`).join(', ')}`).join('; ')
  return `<svg class="chart" role="img" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" aria-label="${escapeXml(`${title}: ${summary}`)}">` +
    `<title>${escapeXml(title)}</title><text class="heading" x="0" y="14">${escapeXml(title)}</text>${parts.join('')}</svg>`
}

/** The outcomes the legend shows, in the chart's order, with only those present. */
export const legend = (counts: CountRow[]): string[] =>
  [...new Set(counts.map(c => outcomeClass(c.outcome)))].sort((a, b) => [...OUTCOMES, 'other'].indexOf(a) - [...OUTCOMES, 'other'].indexOf(b))
