import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp, getJson, tempDir } from './helpers/app.js'
import { engineTest } from './helpers/engines.js'
import { events } from './helpers/events.js'
import { runScript } from './helpers/process.js'
import { parseEvent } from '../src/events/parse.js'
import { USAGE, UsageError, parsePruneArgs } from '../src/scripts/prune-args.js'
import type { FastifyInstance } from 'fastify'

const DAY = 86_400_000

/** Records an event as if it had been received at `receivedAt`. */
async function recordAt (app: FastifyInstance, body: unknown, receivedAt: Date): Promise<void> {
  const parsed = parseEvent(body)
  if (!parsed.ok) throw new Error('invalid test event')
  await app.repository.writeNow([{ event: parsed.event, plan: parsed.plan }], receivedAt)
}

const run = async (args: string[], env: Record<string, string>) => await runScript('prune', args, env)

t.test('pruneEvents deletes old inbox rows in batches and keeps tenants and users', async t => {
  const { app } = await buildApp(t)
  const now = Date.now()
  const old = Array.from({ length: 5 }, (_, i) => events.createTenant(`t-${i}`, { name: `tenant ${i}` }, { time: '2026-05-19T02:22:58Z' }))
  for (const e of old) await recordAt(app, e, new Date(now - 100 * DAY))
  const recent = events.createTenant('t-recent', { name: 'recent' }, { time: '2026-05-19T02:22:59Z' })
  await recordAt(app, recent, new Date(now - DAY))

  t.equal(await app.repository.pruneEvents(new Date(now - 90 * DAY), 2), 5)
  for (const e of old) t.equal((await getJson(app, `/events/${e.id}`)).statusCode, 404)
  t.equal((await getJson(app, `/events/${recent.id}`)).statusCode, 200, 'a recent event stays')
  t.equal((await getJson(app, '/tenants/t-0')).json().name, 'tenant 0', 'projected state stays')
  t.equal(await app.repository.pruneEvents(new Date(now - 90 * DAY)), 0, 'nothing left to prune')
})

t.test('the command line: --older-than with d or h, clear errors', async t => {
  t.equal(parsePruneArgs(['--older-than', '90d']), 90 * DAY)
  t.equal(parsePruneArgs(['--older-than=36h']), 36 * 3_600_000)
  for (const [args, message] of [
    [[], '--older-than is required'],
    [['--older-than'], '--older-than needs an age'],
    [['--older-than', '90'], 'invalid age "90"'],
    [['--older-than', '0d'], 'invalid age "0d"'],
    [['--older-than', '-5d'], 'invalid age "-5d"'],
    [['--older-than', '3w'], 'invalid age "3w"'],
    [['--older-than='], 'invalid age ""'],
    [['--dry-run'], 'unknown argument "--dry-run"']
  ] as Array<[string[], string]>) {
    const err = t.throws(() => parsePruneArgs(args), args.join(' ')) as Error
    t.type(err, UsageError)
    t.match(err.message, message)
    t.match(err.message, USAGE)
  }
})

t.test('npm run prune deletes old events and prints the count', async t => {
  const { app, config } = await buildApp(t)
  const now = Date.now()
  await recordAt(app, events.createTenant('t-a', { name: 'a' }, { time: '2026-05-19T02:22:58Z' }), new Date(now - 100 * DAY))
  const recent = events.createTenant('t-b', { name: 'b' }, { time: '2026-05-19T02:22:58Z' })
  await recordAt(app, recent, new Date(now - 3 * 3_600_000))
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'old', raw: { old: true } }], new Date(now - 100 * DAY))
  await app.repository.quarantine([{ envelopeId: null, field: '', error: 'recent', raw: { old: false } }], new Date(now - DAY))

  const dir = tempDir(t)
  writeFileSync(join(dir, 'empty.db'), '')
  // In parallel: each run is a process start.
  const [ok, badUrl, missing, empty] = await Promise.all([
    run(['--older-than', '90d'], { DATABASE_URL: config.DATABASE_URL }),
    run(['--older-than', '1d'], { DATABASE_URL: 'nonsense' }),
    run(['--older-than', '1d'], { DATABASE_URL: `file:${join(dir, 'missing.db')}` }),
    run(['--older-than', '1d'], { DATABASE_URL: `file:${join(dir, 'empty.db')}` })
  ])
  t.equal(ok.code, 0, ok.output)
  t.match(ok.output, /^deleted 1 event\(s\) received before \d{4}-/)
  t.match(ok.output, /\ndeleted 1 quarantine row\(s\) last seen before \d{4}-/)
  t.match(ok.output, /\ndeleted 0 reconciliation run\(s\) started before \d{4}-/)
  t.same((await app.repository.quarantined()).map(q => q.error), ['recent'])
  t.equal((await getJson(app, `/events/${recent.id}`)).statusCode, 200)
  t.equal((await getJson(app, '/tenants/t-a')).json().name, 'a', 'projected state stays')
  t.equal(badUrl.code, 1)
  t.match(badUrl.output, /invalid configuration:[\s\S]*DATABASE_URL/)
  t.equal(missing.code, 1)
  t.match(missing.output, 'no database at')
  t.equal(empty.code, 1)
  t.match(empty.output, 'no such table: events')
})

engineTest(t, 'pruneReconcileRuns deletes old runs in batches, keeping the newest successful run that wrote and runs in progress', async (t, engine) => {
  const { app } = await buildApp(t, {}, engine)
  const now = Date.now()
  const store = app.reconcileStore
  t.equal(await app.repository.pruneReconcileRuns(new Date(now)), 0, 'nothing to prune, no successful run')
  const add = async (id: string, daysAgo: number, outcome: 'succeeded' | 'failed' | 'running' | 'skipped', dryRun = false) => {
    const startedAt = new Date(now - daysAgo * DAY)
    await store.startRun({ id, startedAt, snapshotVersion: '0', dryRun, trigger: 'manual', outcome })
    if (outcome !== 'running') await store.finishRun(id, { endedAt: new Date(startedAt.getTime() + 1000), outcome })
  }
  await add('old-success', 200, 'succeeded')
  await add('old-failed', 150, 'failed')
  await add('newest-success', 120, 'succeeded')
  await add('dry-success', 110, 'succeeded', true)
  await add('old-skipped', 100, 'skipped')
  await add('stuck-running', 100, 'running')
  await add('recent-failed', 1, 'failed')
  t.equal(await app.repository.pruneReconcileRuns(new Date(now - 90 * DAY), 2), 4)
  const left = (await store.runs(50)).items.map(r => r.id)
  t.same(left, ['recent-failed', 'stuck-running', 'newest-success'])
  t.same(await store.lastSuccess(), new Date(now - 120 * DAY + 1000), 'the last success is still known')
  t.equal(await app.repository.pruneReconcileRuns(new Date(now - 90 * DAY)), 0)
})
