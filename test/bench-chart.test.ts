import t from 'tap'
import { chartSvg, slowDiskChartSvg } from '../bench/chart.js'

// The bench's chart (bench/chart.ts): bars in proportion to the table's numbers.

const rows = [
  { target: 'bare Fastify', 'req/s': 20000, 'p99 ms': 8, 'vs bare': '100 %' },
  { target: 'receiver <SQLite> & co', 'req/s': 5000, 'p99 ms': 40, 'vs bare': '25 %' },
  { target: 'receiver SQLite, 300 req/s open loop', 'req/s': 300, 'p99 ms': 9.5, 'vs bare': '2 %' }
]
const widths = (svg: string) => [...svg.matchAll(/<rect x="300" y="\d+" width="(\d+)"/g)].map(m => Number(m[1]))

t.test('throughput bars for closed-loop rows, p99 bars for every row, each in proportion to the largest', async t => {
  const svg = chartSvg(rows, '2 × test CPU; 60 s')
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="720" height="\d+"/)
  t.same(widths(svg), [310, 78, 62, 310, 74], 'requests/s: 20000 and 5000; p99: 8, 40 and 9.5 ms')
  t.match(svg, '5000 (25 %)')
  t.equal(svg.split('open loop').length - 1, 1, 'the open-loop row is only in the latency panel')
  t.match(svg, 'receiver &lt;SQLite&gt; &amp; co', 'labels are escaped')
  t.match(svg, '2 × test CPU; 60 s')
})

t.test('a long label widens the label column, so that no bar starts under its text', async t => {
  const label = 'receiver SQLite (FULL), BATCH_MAX_WAIT_MS=10, EventBridge rate (300 req/s open loop, connection per request)'
  const svg = chartSvg([...rows, { target: label, 'req/s': 300, 'p99 ms': 24, 'vs bare': '1 %' }], '')
  const x = Math.ceil(20 + label.length * 6.5)
  t.match(svg, new RegExp(`^<svg xmlns="http://www.w3.org/2000/svg" width="${x + 420}"`))
  t.equal([...svg.matchAll(/<rect x="(\d+)" y=/g)].filter(m => Number(m[1]) !== x).length, 0, 'every bar starts after the longest label')
  t.equal([...svg.matchAll(/<rect x="\d+" y=/g)].length, 2 + 4, 'two closed-loop bars (the open-loop rows have none) and four p99 bars')
})

t.test('a panel whose values are all zero still draws visible bars', async t => {
  t.same(widths(chartSvg([{ target: 'x', 'req/s': 0, 'p99 ms': 0, 'vs bare': '0 %' }], '')), [1, 1])
})

t.test('the slow-disk chart: p99 bars on a log scale, labelled with the delay, the worst answer and the requests over 5 s', async t => {
  const slow = [
    { target: 'receiver, SQLite (FULL)', 'flush +ms': 5, 'p99 ms': 9, 'max ms': 20, 'over 5 s': 0 },
    { target: 'naive receiver (SQLite FULL)', 'flush +ms': 5, 'p99 ms': 9999, 'max ms': 20000, 'over 5 s': 944 }
  ]
  const svg = slowDiskChartSvg(slow, 'caption <x>')
  const bars = [...svg.matchAll(/<rect x="(\d+)" y="\d+" width="(\d+)"/g)].map(m => Number(m[2]))
  t.same(bars, [Math.round(310 / 4), 310], 'log10(1 + 9) is a quarter of log10(1 + 9999)')
  t.match(svg, 'naive receiver (SQLite FULL), flush +5 ms')
  t.match(svg, '9999 ms (max 20000, 944 over 5 s)')
  t.match(svg, 'caption &lt;x&gt;')
})
