import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import type { WriteCause } from '../db/writing/batch-write.js'
import type { ChunkReader, ReconcileStore } from '../db/reconcile-store.js'
import type { Entity } from '../events/entities.js'
import { snapshotVersion, type Version } from '../events/version.js'
import type { SaasusClient } from '../saasus/client.js'
import type { SaasusTenantUser } from '../schemas/saasus-api.js'
import { REPORT_ENTITIES, count, emptyDrift, type Drift } from './drift.js'
import { WorkSlice } from '../work-slice.js'
import { AnalyzeSchedule, ChunkSizer, giveWay } from './pacer.js'
import { planDeletions, planEnvs, planMemberships, planRoles, planTenants, planUsers, rowKey, type PlannedItem } from './plan.js'
import { fetchSnapshot, type Snapshot } from './snapshot.js'

// One reconciliation run: take the lease (one run at a time per database), record the run, read the
// whole snapshot (any failure ends the run before anything is written), raise the version floor to the
// snapshot's version, then apply the snapshot in chunks, each one short transaction through the guarded
// write path, and finally delete what is live here but absent there, reading the live keys page by page.
// Event intake goes first throughout: chunks are sized to a time budget, wait while event batches are
// queued, and every long computation over the snapshot gives the event loop a turn every few ms.

export interface ReconcileLog {
  info: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

export interface ReconcilerOptions {
  client: SaasusClient
  store: ReconcileStore
  /** Subtracted from the start time to give the snapshot's version (clock skew, calls in flight). */
  marginMs: number
  /** Most snapshot rows per transaction. */
  chunkSize: number
  /** Time budget of one chunk's transaction: chunks grow or shrink towards it (ms). */
  chunkTargetMs: number
  /**
   * Event intake's turn: called before each chunk, it answers whether the events submitted so far are
   * still waiting to be written; the chunk waits for them (up to MAX_GIVE_WAY_MS), not for later ones.
   */
  intakeTurn?: () => () => boolean
  /**
   * How often a run that writes refreshes the planner's statistics while applying (ms), and once more after
   * the memberships: the tables grow, and without fresh statistics SQLite reads attribute keys by scope.
   */
  analyzeEveryMs: number
  /** Longest time one chunk's transaction may take. */
  chunkTimeoutMs: number
  /** How long the lease lasts without renewal; renewed before every chunk and after every answer. */
  leaseMs: number
  log: ReconcileLog
  /** Called with every finished run (metrics). */
  onFinished?: (result: RunResult) => void
}

export type RunOutcome = 'succeeded' | 'failed' | 'skipped'

export interface RunResult {
  id: string
  outcome: RunOutcome
  dryRun: boolean
  trigger: string
  snapshotVersion: Version
  startedAt: Date
  endedAt: Date
  drift: Drift
  error?: string
}

export interface RunOptions {
  dryRun?: boolean
  /** What started it, recorded with the run: `manual` (the command), `start`, `interval`. */
  trigger?: string
}

/** The order deletions go in: what hangs below first. */
const DELETION_ORDER: Entity[] = ['tenant_user_role', 'tenant_user', 'user', 'tenant', 'role', 'env']

class Stopped extends Error {}

/** Longest computation over the snapshot before the event loop gets a turn (ms). */
const SLICE_MS = 5
/** Longest a chunk waits for queued event batches before it goes anyway (ms): progress under constant load. */
const MAX_GIVE_WAY_MS = 1000
/** How often a waiting chunk looks again (ms). */
const GIVE_WAY_POLL_MS = 2
/** Live keys read per page when looking for rows absent from the snapshot. */
const KEY_PAGE = 2000

/** Keys of every row the snapshot holds, per entity; built a slice at a time. */
async function snapshotKeys (snapshot: Snapshot, slice: WorkSlice): Promise<Record<Entity, Set<string>>> {
  const keys: Record<Entity, Set<string>> = { tenant: new Set(), user: new Set(), tenant_user: new Set(), tenant_user_role: new Set(), role: new Set(), env: new Set() }
  for (const t of snapshot.tenants) { keys.tenant.add(rowKey('tenant', { id: t.id })); await slice.turn() }
  for (const u of snapshot.users) { keys.user.add(rowKey('user', { id: u.id })); await slice.turn() }
  for (const m of snapshot.memberships) {
    keys.tenant_user.add(rowKey('tenant_user', { tenant_id: m.tenant_id, user_id: m.id }))
    for (const env of m.envs) {
      for (const r of env.roles) keys.tenant_user_role.add(rowKey('tenant_user_role', { tenant_id: m.tenant_id, user_id: m.id, env_id: env.id, role_name: r.role_name }))
    }
    await slice.turn()
  }
  for (const r of snapshot.roles) keys.role.add(rowKey('role', { role_name: r.role_name }))
  for (const e of snapshot.envs) keys.env.add(rowKey('env', { id: e.id }))
  return keys
}

/** The memberships with each user's together (one read of a user's memberships then serves all of them). */
async function byUser (memberships: SaasusTenantUser[], slice: WorkSlice): Promise<SaasusTenantUser[]> {
  const groups = new Map<string, SaasusTenantUser[]>()
  for (const m of memberships) {
    const group = groups.get(m.id)
    if (group === undefined) groups.set(m.id, [m])
    else group.push(m)
    await slice.turn()
  }
  const ordered: SaasusTenantUser[] = []
  for (const group of groups.values()) { ordered.push(...group); await slice.turn() }
  return ordered
}

const unique = (values: string[]): string[] => [...new Set(values)]

export class Reconciler {
  readonly #options: ReconcilerOptions
  #stopping = false

  constructor (options: ReconcilerOptions) {
    this.#options = options
  }

  /** Makes a run in progress end (failed) before its next chunk; no new run starts. */
  stop (): void {
    this.#stopping = true
  }

  async run ({ dryRun = false, trigger = 'manual' }: RunOptions = {}): Promise<RunResult> {
    const { store, marginMs, leaseMs } = this.#options
    const id = randomUUID()
    const startedAt = new Date()
    const version = snapshotVersion(startedAt.getTime() - marginMs, id)
    const drift = emptyDrift()
    const leaseUntil = () => new Date(Date.now() + leaseMs)
    const finish = async (outcome: RunOutcome, error?: string): Promise<RunResult> => {
      const result: RunResult = { id, outcome, dryRun, trigger, snapshotVersion: version, startedAt, endedAt: new Date(), drift, ...(error === undefined ? {} : { error }) }
      await store.finishRun(id, { endedAt: result.endedAt, outcome, counts: drift, error })
      this.#report(result)
      return result
    }

    const run = { id, startedAt, snapshotVersion: version, dryRun, trigger }
    if (this.#stopping || !await store.acquireLease(id, leaseUntil(), startedAt)) {
      await store.startRun({ ...run, outcome: 'skipped' })
      return await finish('skipped', this.#stopping ? 'the service is shutting down' : 'another reconciliation holds the lease')
    }
    try {
      await store.startRun({ ...run, outcome: 'running' })
      let renewed = performance.now()
      /** Ends the run when stopping; renews the lease, before a chunk only once a quarter of it has passed. */
      const renew = async (always = true): Promise<void> => {
        if (this.#stopping) throw new Stopped('stopped: the service is shutting down')
        if (!always && performance.now() - renewed < leaseMs / 4) return
        if (!await store.renewLease(id, leaseUntil())) throw new Error('lost the reconciliation lease (a chunk took longer than the lease)')
        renewed = performance.now()
      }
      let snapshot: Snapshot
      try {
        snapshot = await fetchSnapshot(this.#options.client, async () => { await renew() })
      } catch (err) {
        return await finish('failed', `incomplete snapshot, nothing written: ${(err as Error).message}`)
      }
      try {
        if (!dryRun) await store.raiseFloor(version)
        await this.#apply(snapshot, id, version, drift, dryRun, renew)
      } catch (err) {
        return await finish('failed', `applying the snapshot stopped part-way (the next run completes it): ${(err as Error).message}`)
      }
      return await finish('succeeded')
    } finally {
      await store.releaseLease(id)
    }
  }

  #report (result: RunResult): void {
    const counts = Object.fromEntries(REPORT_ENTITIES.map(e => {
      const { created, updated, deleted, unchanged } = result.drift[e]
      return [e, { created, updated, deleted, unchanged }]
    }))
    const fields = {
      runId: result.id,
      outcome: result.outcome,
      trigger: result.trigger,
      dryRun: result.dryRun,
      snapshotVersion: result.snapshotVersion,
      durationMs: result.endedAt.getTime() - result.startedAt.getTime(),
      counts,
      ...(result.error === undefined ? {} : { error: result.error })
    }
    if (result.outcome === 'failed') this.#options.log.warn(fields, 'reconciliation run failed')
    else this.#options.log.info(fields, `reconciliation run ${result.outcome}`)
    this.#options.onFinished?.(result)
  }

  async #apply (snapshot: Snapshot, runId: string, version: Version, drift: Drift, dryRun: boolean, renew: (always: boolean) => Promise<void>): Promise<void> {
    const { store, chunkSize, chunkTargetMs, chunkTimeoutMs, intakeTurn, analyzeEveryMs } = this.#options
    const cause: WriteCause = { kind: 'reconcile', runId }
    const slice = new WorkSlice(SLICE_MS)
    const statistics = new AnalyzeSchedule(analyzeEveryMs)
    let tables: Entity[] = []
    /** One chunk of `rows` snapshot rows: after the event batches waiting, in one transaction, timed for `sizer`. */
    const chunk = async (sizer: ChunkSizer, rows: number, work: (reader: ChunkReader) => Promise<PlannedItem[]>): Promise<void> => {
      if (intakeTurn !== undefined) await giveWay(intakeTurn(), GIVE_WAY_POLL_MS, MAX_GIVE_WAY_MS)
      await renew(false)
      const started = performance.now()
      const outcomes = await store.chunk(cause, dryRun, chunkTimeoutMs, async reader => {
        const planned = await work(reader)
        const writes = planned.filter(p => p.changes.length > 0)
        const applied = writes.length > 0 ? await reader.apply(writes.map(p => p.changes)) : new Set<number>()
        let w = 0
        // A write the guards refused (a newer event here) leaves the row as it is: unchanged.
        return planned.map(p => ({ ...p, kind: p.changes.length === 0 || applied.has(w++) ? p.kind : 'unchanged' as const }))
      })
      sizer.took(rows, performance.now() - started)
      // The tables grow: fresh planner statistics keep the reads of chunks and event batches on their indexes.
      statistics.wrote(outcomes.filter(p => p.kind !== 'unchanged').length)
      if (!dryRun && statistics.due()) {
        await store.analyze(tables)
        statistics.analyzed()
      }
      for (const p of outcomes) count(drift, p.entity, p.kind, p.id)
      // Event batches queued meanwhile get the database before the next chunk.
      await yieldToEvents()
    }
    /** A phase writing rows of `entities`: the tables whose statistics it refreshes. */
    const phase = (entities: Entity[]): void => {
      tables = entities
      statistics.phase()
    }
    /** `items` (rows of `entities`) in chunks sized to the time budget; `work` plans one part against the local rows it reads. */
    const inChunks = async <T>(entities: Entity[], items: T[], work: (part: T[]) => (reader: ChunkReader) => Promise<PlannedItem[]>): Promise<void> => {
      phase(entities)
      const sizer = new ChunkSizer(chunkTargetMs, chunkSize)
      for (let at = 0; at < items.length;) {
        const part = items.slice(at, at + sizer.size)
        at += part.length
        await chunk(sizer, part.length, work(part))
      }
    }

    await inChunks(['role'], snapshot.roles, part => async reader => planRoles(part, await reader.roles(), version))
    await inChunks(['env'], snapshot.envs, part => async reader => planEnvs(part, await reader.envs(), version))
    await inChunks(['tenant'], snapshot.tenants, part => async reader => {
      const ids = part.map(t => t.id)
      return planTenants(part, await reader.tenants(ids), await reader.attributes('tenant', ids), version)
    })
    await inChunks(['user'], snapshot.users, part => async reader => {
      const ids = part.map(u => u.id)
      return planUsers(part, await reader.users(ids), await reader.attributes('user', ids), version)
    })
    await inChunks(['tenant_user', 'tenant_user_role'], await byUser(snapshot.memberships, slice), part => async reader => {
      const userIds = unique(part.map(m => m.id))
      const [tenants, users, below] = [await reader.tenants(unique(part.map(m => m.tenant_id))), await reader.users(userIds), await reader.memberships(userIds)]
      return planMemberships(part, { tenants, users, ...below }, version)
    })
    // Statistics of the tables as the snapshot left them, for the deletions and the event batches after.
    if (!dryRun && statistics.pending > 0) {
      await store.analyze()
      statistics.analyzed()
    }
    const keys = await snapshotKeys(snapshot, slice)
    for (const entity of DELETION_ORDER) {
      phase([entity])
      const sizer = new ChunkSizer(chunkTargetMs, chunkSize)
      // Page by page in key order: deleting rows behind the cursor never moves it.
      for (let after: Record<string, string | number> | undefined, full = true; full;) {
        const page = await store.liveKeys(entity, KEY_PAGE, after)
        full = page.length === KEY_PAGE
        after = page[page.length - 1]
        const deletions = planDeletions(entity, page, keys[entity], version)
        await slice.turn()
        for (let at = 0; at < deletions.length;) {
          const part = deletions.slice(at, at + sizer.size)
          at += part.length
          await chunk(sizer, part.length, async () => part)
        }
      }
    }
  }
}
