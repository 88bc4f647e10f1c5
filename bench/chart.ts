// The bench table as a small SVG chart: requests/s of the closed-loop runs (bars against bare Fastify) and
// p99 latency of every run. Plain SVG text, so that docs/performance.md can show it and git can diff it.

export type Row = Record<string, string | number>

/** Room for the labels (at least MIN_LABEL px; ~6.5 px a character at 12 px sans-serif), then the bars and their values. */
const MIN_LABEL = 300
const BARS = 420
const CHAR = 6.5
const BAR = 18
const GAP = 6
const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * One titled panel of horizontal bars; returns its SVG and height. `scale`: how a value maps to a length
 * before bars are made proportional (a log scale shows 20 ms beside 40 s).
 */
function panel (title: string, bars: Array<{ label: string, value: number, text: string }>, top: number, label: number, scale = (v: number) => v): { svg: string, height: number } {
  const most = Math.max(...bars.map(b => scale(b.value)))
  const span = BARS - 110
  const lines = [`<text x="10" y="${top + 16}" font-weight="bold">${escape(title)}</text>`]
  bars.forEach((bar, i) => {
    const y = top + 28 + i * (BAR + GAP)
    const width = most > 0 ? Math.max(1, Math.round((scale(bar.value) / most) * span)) : 1
    lines.push(
      `<text x="10" y="${y + 13}">${escape(bar.label)}</text>`,
      `<rect x="${label}" y="${y}" width="${width}" height="${BAR}" fill="#4a78b5"/>`,
      `<text x="${label + width + 6}" y="${y + 13}">${escape(bar.text)}</text>`
    )
  })
  return { svg: lines.join('\n'), height: 28 + bars.length * (BAR + GAP) + 10 }
}

/** The chart of a bench run (`rows` as in bench/results/latest.json); `caption` names the machine and date. */
export function chartSvg (rows: Row[], caption: string): string {
  // One label column for both panels, wide enough for the longest label (the EventBridge-rate rows are long).
  const label = Math.max(MIN_LABEL, Math.ceil(20 + Math.max(...rows.map(r => String(r.target).length)) * CHAR))
  const width = label + BARS
  const closed = rows.filter(r => !String(r.target).includes('open loop'))
  const throughput = panel('requests/s, 64 connections (closed loop)', closed.map(r => ({
    label: String(r.target), value: Number(r['req/s']), text: `${Number(r['req/s'])} (${String(r['vs bare'])})`
  })), 0, label)
  const latency = panel('p99 latency, ms', rows.map(r => ({
    label: String(r.target), value: Number(r['p99 ms']), text: String(r['p99 ms'])
  })), throughput.height, label)
  const height = throughput.height + latency.height + 24
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    throughput.svg,
    latency.svg,
    `<text x="10" y="${height - 8}" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    ''
  ].join('\n')
}

/**
 * The slow-disk section's chart (bench/slow-disk.ts, `rows` as in bench/results/slow-disk.json): p99 latency
 * of each target at each flush delay, on a log scale, with the worst answer and the requests over 5 s.
 */
export function slowDiskChartSvg (rows: Row[], caption: string): string {
  const bars = rows.map(r => ({
    label: `${String(r.target)}, flush +${Number(r['flush +ms'])} ms`,
    value: Number(r['p99 ms']),
    text: `${Number(r['p99 ms'])} ms (max ${Number(r['max ms'])}, ${Number(r['over 5 s'])} over 5 s)`
  }))
  const label = Math.max(MIN_LABEL, Math.ceil(20 + Math.max(...bars.map(b => b.label.length)) * CHAR))
  // Room after the longest bar for its text (p99, max and the count over 5 s).
  const width = label + BARS + 200
  const p99 = panel('p99 latency, ms (log scale), every flush delayed', bars, 0, label, v => Math.log10(1 + v))
  const height = p99.height + 24
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    p99.svg,
    `<text x="10" y="${height - 8}" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    ''
  ].join('\n')
}
