import t from 'tap'
import { buildApp, testConfig } from '../helpers/app.js'
import { sqlite } from '../helpers/engines.js'
import { events } from '../helpers/events.js'
import { runScript } from '../helpers/process.js'
import { parseReplayArgs, UsageError } from '../../src/scripts/replay-quarantine-args.js'
import { replayMany } from '../../src/console/replay-all.js'
import { ConsoleQuarantine } from '../../src/db/console/console-quarantine.js'
import { quarantineCopy } from '../../src/events/quarantine-copy.js'
import { loadConfig } from '../../src/config.js'

// `npm run replay-quarantine -- --id <id> | --all`: its arguments, replaying page by page, and the real
// process against a database a running service uses.
t.setTimeout(300_000)

t.test('arguments: --id (repeatable) or --all, never both or neither', async t => {
  t.same(parseReplayArgs(['--all']), { all: true })
  t.same(parseReplayArgs(['--id', '3', '--id', '12']), { all: false, ids: [3, 12] })
  t.throws(() => parseReplayArgs([]), new UsageError('nothing to replay: name items with --id, or --all\nusage: npm run replay-quarantine -- --id <id> | --all'))
  t.throws(() => parseReplayArgs(['--all', '--id', '1']), { message: /^--all and --id together: choose one/ })
  t.throws(() => parseReplayArgs(['--id']), { message: /^--id needs a quarantine item id \(a positive whole number\), got ""/ })
  t.throws(() => parseReplayArgs(['--id', '0']), { message: /got "0"/ })
  t.throws(() => parseReplayArgs(['--id', 'x']), { message: /got "x"/ })
  t.throws(() => parseReplayArgs(['--everything']), { message: /^unknown argument "--everything"/ })
})

t.test('--all replays a page of ids at a time, passing over what stays refused', async t => {
  const { app } = await buildApp(t)
  const valid = Array.from({ length: 3 }, (_, i) => events.createEnv(i + 1, `env-${i}`, { time: '2026-06-01T10:00:00Z' }))
  // 205 refused items: three pages of ids; the valid ones come last.
  await app.repository.quarantine(Array.from({ length: 205 }, (_, i) => ({ envelopeId: null, field: '', error: 'old', ...quarantineCopy({ n: i }, { field: '', message: 'old' }) })))
  await app.repository.quarantine(valid.map(v => ({ envelopeId: v.id, field: '', error: 'old', ...quarantineCopy(v, { field: '', message: 'old' }) })))
  const seen: string[] = []
  const results = await replayMany({
    repository: app.repository,
    quarantine: new ConsoleQuarantine(app.repository),
    log: { info: () => {} },
    clock: () => ({ now: Date.now(), maxFutureSkewMs: 60_000 }),
    bodyLimit: 2 * 1024 * 1024
  }, { all: true }, r => { seen.push(r.result) })
  t.equal(results.length, 208)
  t.equal(seen.filter(r => r === 'refused').length, 205)
  t.equal(seen.filter(r => r === 'recorded').length, 3)
  t.equal(await app.repository.prisma.quarantinedEvent.count(), 205)
  t.match((await app.repository.prisma.quarantinedEvent.findFirstOrThrow()).error, 'Expected required property', 'the new reason')
})

t.test('npm run replay-quarantine: one line per item; exit 1 for an unknown id or bad arguments', async t => {
  const config = testConfig(t, {}, sqlite)
  const env = { DATABASE_URL: config.DATABASE_URL, API_KEYS: config.API_KEYS[0] }
  const { app } = await buildApp(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }))
  const valid = events.createTenant('t-1', { name: 'Replayed' }, { time: '2026-06-01T10:00:00Z' })
  await app.repository.quarantine([
    { envelopeId: valid.id, field: '/detail', error: 'refused by an older rule', ...quarantineCopy(valid, { field: '', message: 'old' }) },
    { envelopeId: 'bad', field: '', error: 'old', ...quarantineCopy({ id: 'bad' }, { field: '', message: 'old' }) }
  ])
  const [first, second] = await new ConsoleQuarantine(app.repository).ids(10)

  const one = await runScript('replay-quarantine', ['--id', String(first), '--id', '999'], env)
  t.equal(one.code, 1, one.output)
  t.equal(one.output, [
    `quarantine item ${first}: passes today's validation; recorded as event ${valid.id} (applied) and removed from the quarantine`,
    'quarantine item 999: not found (already replayed or pruned)',
    '2 item(s): 1 recorded and removed, 0 still refused, 0 not replayable, 1 not found',
    ''
  ].join('\n'))
  t.match(await app.repository.tenant('t-1'), { name: 'Replayed' }, 'applied to the database the service uses')

  const all = await runScript('replay-quarantine', ['--all'], env)
  t.equal(all.code, 0, all.output)
  t.match(all.output, new RegExp(`^quarantine item ${second}: still refused \\(body/time Expected required property\\); kept with this reason\\n1 item\\(s\\): 0 recorded and removed, 1 still refused, 0 not replayable, 0 not found\\n$`))

  const usage = await runScript('replay-quarantine', [], env)
  t.equal(usage.code, 1)
  t.match(usage.output, /^nothing to replay: name items with --id, or --all\nusage: npm run replay-quarantine/)
  const badConfig = await runScript('replay-quarantine', ['--all'], { ...env, CONSOLE_PASSWORD: 'short' })
  t.equal(badConfig.code, 1)
  t.equal(badConfig.output, 'invalid configuration: CONSOLE_PASSWORD: shorter than 16 characters; use a long random secret or leave it empty (console off)\n')
})
