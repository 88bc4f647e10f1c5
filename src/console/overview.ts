import type { Repository } from '../db/repository.js'
import { REFUSED, type ConsoleReads, type EventCounts } from '../db/console/console-reads.js'
import { ReconcileStore, type RunRecord } from '../db/reconcile-store.js'
import { readMigrations } from '../db/migrations/migrate.js'
import { SQLITE_MIGRATIONS_DIR } from '../db/engines/sqlite.js'
import { REPORT_ENTITIES } from '../reconcile/drift.js'
import { countsChart, legend } from './chart.js'

// What the overview shows: events of the last hour and day (charts), the quarantine's size, whether the
// database is ready (as /readyz decides), the last reconciliation and its drift, the change feed's head.

export interface Overview {
  hour: { chart: string, legend: string[], total: number }
  day: { chart: string, legend: string[], total: number }
  quarantine: { rows: number, bytes: number }
  readiness: { ready: boolean, detail: string }
  reconcile: { run: RunRecord, drift: Array<{ entity: string, created: number, updated: number, deleted: number, unchanged: number }> } | null
  feedHead: number
}

const HOUR = 3_600_000

/** A chart of the counts; its title says when only the newest events were broken down by type. */
function summary (title: string, { rows, total, counted }: EventCounts): Overview['hour'] {
  const refused = rows.filter(r => r.event_type === REFUSED).reduce((n, r) => n + r.count, 0)
  const sampled = counted < total - refused ? `${title} (types of the newest ${counted.toLocaleString('en')})` : title
  return { chart: countsChart(sampled, rows), legend: legend(rows), total }
}

/**
 * As /readyz decides, given that the database answers (the page's own session check needed it; when it
 * does not, the page is a 503 like any request).
 */
async function readiness (repository: Repository, expected: string[]): Promise<Overview['readiness']> {
  const applied = new Set(await repository.appliedMigrations())
  const pending = expected.filter(name => !applied.has(name))
  return pending.length === 0
    ? { ready: true, detail: `the database answers; all ${expected.length} migrations applied` }
    : { ready: false, detail: `migrations pending: ${pending.join(', ')}` }
}

/** The drift counts of a run's report, per entity (none for a run without one). */
function drift (run: RunRecord): NonNullable<Overview['reconcile']>['drift'] {
  const counts = run.counts as Record<string, { created: number, updated: number, deleted: number, unchanged: number }> | null
  if (counts === null) return []
  return REPORT_ENTITIES.filter(e => counts[e] !== undefined).map(entity => ({ entity, ...counts[entity] }))
}

export async function overview (repository: Repository, reads: ConsoleReads, now: Date = new Date()): Promise<Overview> {
  const expected = readMigrations(SQLITE_MIGRATIONS_DIR).map(m => m.name)
  const [ready, hour, day, quarantine, runs, feed] = await Promise.all([
    readiness(repository, expected),
    reads.eventCounts(new Date(now.getTime() - HOUR)),
    reads.eventCounts(new Date(now.getTime() - 24 * HOUR)),
    repository.quarantineSize(),
    new ReconcileStore(repository).runs(1),
    repository.feedBounds()
  ])
  const run = runs.items[0]
  return {
    hour: summary('Last hour', hour),
    day: summary('Last 24 hours', day),
    quarantine,
    readiness: ready,
    reconcile: run === undefined ? null : { run, drift: drift(run) },
    feedHead: feed.head
  }
}
