import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import type { WriteCause } from '../db/writing/batch-write.js'
import type { ChunkReader, ReconcileStore } from '../db/reconcile-store.js'
import type { Entity } from '../events/entities.js'
import { snapshotVersion, type Version } from '../events/version.js'
import type { SaasusClient } from '../saasus/client.js'
import { REPORT_ENTITIES, count, emptyDrift, type Drift } from './drift.js'
import { planDeletions, planEnvs, planMemberships, planRoles, planTenants, planUsers, rowKey, type PlannedItem } from './plan.js'
import { fetchSnapshot, type Snapshot } from './snapshot.js'

// One reconciliation run: take the lease (one run at a time per database), record the run, read the
// whole snapshot (any failure ends the run before anything is written), raise the version floor to the
// snapshot's version, then apply the snapshot in chunks, each one short transaction through the guarded
// write path, letting event batches in between, and finally delete what is live here but absent there.

export interface ReconcileLog {
  info: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

export interface ReconcilerOptions {
  client: SaasusClient
  store: ReconcileStore
  /** Subtracted from the start time to give the snapshot's version (clock skew, calls in flight). */
  marginMs: number
  /** Snapshot rows per transaction. */
  chunkSize: number
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

const slices = <T>(list: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size))

/** Keys of every row the snapshot holds, per entity. */
function snapshotKeys (snapshot: Snapshot): Record<Entity, Set<string>> {
  const roleAssignments = snapshot.memberships.flatMap(m => m.envs.flatMap(env => env.roles.map(r =>
    rowKey('tenant_user_role', { tenant_id: m.tenant_id, user_id: m.id, env_id: env.id, role_name: r.role_name }))))
  return {
    tenant: new Set(snapshot.tenants.map(t => rowKey('tenant', { id: t.id }))),
    user: new Set(snapshot.users.map(u => rowKey('user', { id: u.id }))),
    tenant_user: new Set(snapshot.memberships.map(m => rowKey('tenant_user', { tenant_id: m.tenant_id, user_id: m.id }))),
    tenant_user_role: new Set(roleAssignments),
    role: new Set(snapshot.roles.map(r => rowKey('role', { role_name: r.role_name }))),
    env: new Set(snapshot.envs.map(e => rowKey('env', { id: e.id })))
  }
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
      const renew = async (): Promise<void> => {
        if (this.#stopping) throw new Stopped('stopped: the service is shutting down')
        if (!await store.renewLease(id, leaseUntil())) throw new Error('lost the reconciliation lease (a chunk took longer than the lease)')
      }
      let snapshot: Snapshot
      try {
        snapshot = await fetchSnapshot(this.#options.client, renew)
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

  async #apply (snapshot: Snapshot, runId: string, version: Version, drift: Drift, dryRun: boolean, renew: () => Promise<void>): Promise<void> {
    const { store, chunkSize, chunkTimeoutMs } = this.#options
    const cause: WriteCause = { kind: 'reconcile', runId }
    const chunk = async (work: (reader: ChunkReader) => Promise<PlannedItem[]>): Promise<void> => {
      await renew()
      const outcomes = await store.chunk(cause, dryRun, chunkTimeoutMs, async reader => {
        const planned = await work(reader)
        const writes = planned.filter(p => p.changes.length > 0)
        const applied = writes.length > 0 ? await reader.apply(writes.map(p => p.changes)) : new Set<number>()
        let w = 0
        // A write the guards refused (a newer event here) leaves the row as it is: unchanged.
        return planned.map(p => ({ ...p, kind: p.changes.length === 0 || applied.has(w++) ? p.kind : 'unchanged' as const }))
      })
      for (const p of outcomes) count(drift, p.entity, p.kind, p.id)
      // Event batches queued meanwhile get the database before the next chunk.
      await yieldToEvents()
    }

    await chunk(async reader => planRoles(snapshot.roles, await reader.roles(), version))
    await chunk(async reader => planEnvs(snapshot.envs, await reader.envs(), version))
    for (const part of slices(snapshot.tenants, chunkSize)) {
      const ids = part.map(t => t.id)
      await chunk(async reader => planTenants(part, await reader.tenants(ids), await reader.attributes('tenant', ids), version))
    }
    for (const part of slices(snapshot.users, chunkSize)) {
      const ids = part.map(u => u.id)
      await chunk(async reader => planUsers(part, await reader.users(ids), await reader.attributes('user', ids), version))
    }
    // By user, so that one read of a user's memberships serves all of them.
    const memberships = [...snapshot.memberships].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (const part of slices(memberships, chunkSize)) {
      const userIds = unique(part.map(m => m.id))
      await chunk(async reader => {
        const [tenants, users, below] = [await reader.tenants(unique(part.map(m => m.tenant_id))), await reader.users(userIds), await reader.memberships(userIds)]
        return planMemberships(part, { tenants, users, ...below }, version)
      })
    }
    const keys = snapshotKeys(snapshot)
    for (const entity of DELETION_ORDER) {
      const deletions = planDeletions(entity, await store.liveKeys(entity), keys[entity], version)
      for (const part of slices(deletions, chunkSize)) await chunk(async () => part)
    }
  }
}
