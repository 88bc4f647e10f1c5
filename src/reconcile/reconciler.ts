import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import type { WriteCause } from '../db/writing/batch-write.js'
import type { ChunkReader, JournalEntry, ReconcileStore } from '../db/reconcile-store.js'
import { ENTITIES, type Entity } from '../events/entities.js'
import { snapshotVersion, type Version } from '../events/version.js'
import type { SaasusClient } from '../saasus/client.js'
import type { SaasusEnv, SaasusRole, SaasusSaasUser, SaasusTenant, SaasusTenantUser } from '../schemas/saasus-api.js'
import { Heartbeat } from './heartbeat.js'
import { REPORT_ENTITIES, count, emptyDrift, refuse, type Drift } from './drift.js'
import { WorkSlice } from '../work-slice.js'
import { AnalyzeSchedule, ChunkSizer, giveWay } from './pacer.js'
import { planDeletions, planEnvs, planMemberships, planRoles, planTenants, planUsers, reportId, rowKey, type PlannedItem } from './plan.js'
import { fetchSnapshot, type Refusal, type Snapshot } from './snapshot.js'

// One reconciliation run: take the lease (one run at a time per database; renewed every few seconds while
// the run lives, so that a killed run's lease soon expires and the next run marks it abandoned), record the
// run, read the whole snapshot (any failure ends the run before anything is written), apply it in chunks,
// each one short transaction through the guarded write path, delete what is live here but absent there
// (reading the live keys page by page), and only then raise the version floor to the snapshot's version.
// Writes older than the snapshot that land while it is applied are journaled by the write path and
// compared again before the floor is raised, in the transaction that raises it when none is left: the floor
// never covers a row the copy does not hold as the snapshot says (docs/reconciliation.md). A run that stops
// part-way leaves the floor where it was, so every late event still applies.
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
  /**
   * How long the lease lasts without renewal. A running run renews it every sixth of that (a timer,
   * between chunks), so a run whose process died is seen as dead once it expires.
   */
  leaseMs: number
  log: ReconcileLog
  /** Called with every finished run (metrics). */
  onFinished?: (result: RunResult) => void
  /** The clock plans are compared at (a reservation due since the snapshot is not drift); Date.now by default. */
  now?: () => number
  /**
   * The mass-deletion guard: a run that would delete more than `fraction` of the live rows of one kind, and
   * at least `minRows` of them, writes nothing unless the run allows it (RECONCILE_MAX_DELETE_FRACTION,
   * RECONCILE_MASS_DELETE_MIN_ROWS).
   */
  maxDelete?: { fraction: number, minRows: number }
}

/** `refused`: the snapshot would have deleted too much of the copy (the mass-deletion guard); nothing written. */
export type RunOutcome = 'succeeded' | 'failed' | 'skipped' | 'refused'

export interface RunResult {
  /** Runs found `running` when this one took the lease, marked abandoned (their processes died). */
  abandoned: string[]
  /** Whether the version floor was raised to this run's snapshot version (succeeded, nothing refused). */
  floorRaised: boolean
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
  /** Applies the snapshot whatever share of the copy it deletes (`--allow-mass-delete`). */
  allowMassDelete?: boolean
}

/** The order deletions go in: what hangs below first. */
const DELETION_ORDER: Entity[] = ['tenant_user_role', 'tenant_user_env', 'tenant_user', 'user', 'tenant', 'role', 'env']
/** The rows below a membership, kept with it when its item was refused. */
const BELOW_MEMBERSHIP: Entity[] = ['tenant_user_role', 'tenant_user_env']
const keptBelow = (keys: SnapshotKeys, entity: Entity, key: Record<string, string | number>): boolean =>
  BELOW_MEMBERSHIP.includes(entity) && keys.kept.has(rowKey('tenant_user', key))

class Stopped extends Error {}

/** How the guard's refusal names the rows of each kind. */
const ENTITY_NAMES: Record<Entity, string> = {
  tenant: 'tenants', user: 'users', tenant_user: 'memberships', tenant_user_role: 'role assignments', tenant_user_env: 'envs listed without role', role: 'roles', env: 'envs'
}

/** Longest computation over the snapshot before the event loop gets a turn (ms). */
const SLICE_MS = 5
/** Longest a chunk waits for queued event batches before it goes anyway (ms): progress under constant load. */
const MAX_GIVE_WAY_MS = 1000
/** How often a waiting chunk looks again (ms). */
const GIVE_WAY_POLL_MS = 2
/** Live keys read per page when looking for rows absent from the snapshot. */
const KEY_PAGE = 2000
/** Journal entries compared per chunk. */
const JOURNAL_PAGE = 500
/**
 * Times a run drains the journal and tries to raise the floor before it gives up (failed, floor not raised):
 * only writes older than the snapshot landing without pause, more than the run can compare, exhaust it.
 */
const MAX_FLOOR_ATTEMPTS = 20

const REFUSED_ENTITY: Record<Refusal['entity'], Entity> = {
  tenants: 'tenant', users: 'user', memberships: 'tenant_user', role_assignments: 'tenant_user_role', membership_envs: 'tenant_user_env', roles: 'role', envs: 'env'
}

/**
 * Keys of every row the snapshot holds, per entity, with those of refused items (never deleted); built a
 * slice at a time. `kept`: memberships whose role assignments and env listings are all kept (their item was refused), and the
 * entities a refused item without a usable id leaves undeletable.
 */
type SnapshotKeys = Record<Entity, Set<string>> & { kept: Set<string>, undeletable: Set<Entity> }

async function snapshotKeys (snapshot: Snapshot, slice: WorkSlice): Promise<SnapshotKeys> {
  const keys: SnapshotKeys = {
    tenant: new Set(), user: new Set(), tenant_user: new Set(), tenant_user_role: new Set(), tenant_user_env: new Set(), role: new Set(), env: new Set(), kept: new Set(), undeletable: new Set()
  }
  for (const r of snapshot.refused) {
    const entity = REFUSED_ENTITY[r.entity]
    if (r.key === undefined) {
      keys.undeletable.add(entity)
      if (entity === 'tenant_user') for (const below of BELOW_MEMBERSHIP) keys.undeletable.add(below)
    } else {
      keys[entity].add(rowKey(entity, r.key))
      if (entity === 'tenant_user') keys.kept.add(rowKey(entity, r.key))
    }
  }
  for (const t of snapshot.tenants) { keys.tenant.add(rowKey('tenant', { id: t.id })); await slice.turn() }
  for (const u of snapshot.users) { keys.user.add(rowKey('user', { id: u.id })); await slice.turn() }
  for (const m of snapshot.memberships) {
    keys.tenant_user.add(rowKey('tenant_user', { tenant_id: m.tenant_id, user_id: m.id }))
    for (const env of m.envs) {
      if (env.roles.length === 0) keys.tenant_user_env.add(rowKey('tenant_user_env', { tenant_id: m.tenant_id, user_id: m.id, env_id: env.id }))
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

/** The snapshot's items by id (memberships by user), for comparing journaled rows again. */
interface SnapshotIndex {
  tenants: Map<string, SaasusTenant>
  users: Map<string, SaasusSaasUser>
  memberships: Map<string, SaasusTenantUser[]>
  /** The users of each tenant's memberships. */
  members: Map<string, string[]>
  roles: SaasusRole[]
  envs: SaasusEnv[]
}

async function snapshotIndex (snapshot: Snapshot, slice: WorkSlice): Promise<SnapshotIndex> {
  const index: SnapshotIndex = { tenants: new Map(), users: new Map(), memberships: new Map(), members: new Map(), roles: snapshot.roles, envs: snapshot.envs }
  for (const t of snapshot.tenants) { index.tenants.set(t.id, t); await slice.turn() }
  for (const u of snapshot.users) { index.users.set(u.id, u); await slice.turn() }
  for (const m of snapshot.memberships) {
    const list = index.memberships.get(m.id)
    if (list === undefined) index.memberships.set(m.id, [m])
    else list.push(m)
    const members = index.members.get(m.tenant_id)
    if (members === undefined) index.members.set(m.tenant_id, [m.id])
    else members.push(m.id)
    await slice.turn()
  }
  return index
}

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

  async run ({ dryRun = false, trigger = 'manual', allowMassDelete = false }: RunOptions = {}): Promise<RunResult> {
    const { store, marginMs, leaseMs } = this.#options
    const id = randomUUID()
    const startedAt = new Date()
    const version = snapshotVersion(startedAt.getTime() - marginMs, id)
    const drift = emptyDrift()
    const leaseUntil = () => new Date(Date.now() + leaseMs)
    let abandoned: string[] = []
    let floorRaised = false
    const finish = async (outcome: RunOutcome, error?: string): Promise<RunResult> => {
      const result: RunResult = { id, outcome, dryRun, trigger, snapshotVersion: version, startedAt, endedAt: new Date(), drift, abandoned, floorRaised, ...(error === undefined ? {} : { error }) }
      await store.finishRun(id, { endedAt: result.endedAt, outcome, counts: drift, error })
      this.#report(result)
      return result
    }

    const run = { id, startedAt, snapshotVersion: version, dryRun, trigger }
    if (this.#stopping || !await store.acquireLease(id, leaseUntil(), startedAt)) {
      await store.startRun({ ...run, outcome: 'skipped' })
      return await finish('skipped', this.#stopping ? 'the service is shutting down' : 'another reconciliation holds the lease')
    }
    const heartbeat = new Heartbeat(leaseMs / 6, async () => await store.renewLease(id, leaseUntil()))
    try {
      abandoned = await store.abandonDeadRuns(startedAt, `abandoned: its lease expired without renewal (its process ended without finishing it); seen by run ${id}`)
      await store.startRun({ ...run, outcome: 'running' })
      heartbeat.start()
      /** Ends the run when stopping or when the lease was lost; renews the lease (`always`, or when due). */
      const renew = async (always = true): Promise<void> => {
        if (this.#stopping) throw new Stopped('stopped: the service is shutting down')
        await heartbeat.beat(always)
      }
      let snapshot: Snapshot
      try {
        snapshot = await fetchSnapshot(this.#options.client, async () => { await renew() })
      } catch (err) {
        return await finish('failed', `incomplete snapshot, nothing written: ${(err as Error).message}`)
      }
      try {
        const keys = await snapshotKeys(snapshot, new WorkSlice(SLICE_MS))
        const { maxDelete } = this.#options
        // A dry run writes nothing anyway: it shows what a refused run would delete. A fraction of 1 is off.
        if (maxDelete !== undefined && maxDelete.fraction < 1 && !dryRun && !allowMassDelete) {
          const refusal = await this.#massDeletion(keys, version, maxDelete)
          if (refusal !== undefined) return await finish('refused', refusal)
        }
        if (!dryRun) await heartbeat.hold(async () => await store.beginApplying(version))
        floorRaised = await this.#apply(snapshot, keys, id, version, drift, dryRun, renew, heartbeat)
      } catch (err) {
        return await finish('failed', 'applying the snapshot stopped part-way (what was applied stays; the version floor was not raised, so every ' +
          `event delivered late still applies; the next run completes it): ${(err as Error).message}`)
      } finally {
        if (!dryRun && !floorRaised) await heartbeat.hold(async () => await store.endApplying(version)).catch(() => {})
      }
      return await finish('succeeded')
    } finally {
      heartbeat.stop()
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

  /**
   * Why the snapshot may not be applied as it is, if it would delete more than `fraction` of the live rows of
   * some kind (and at least `minRows` of them): one bad answer (empty lists, another SaaS's state) must not
   * deprovision every customer. Counted exactly, from the live keys, before anything is written; rows made
   * live by an event newer than the snapshot are neither counted (the deletion would not touch them) nor part
   * of the share.
   */
  async #massDeletion (keys: SnapshotKeys, version: Version, { fraction, minRows }: { fraction: number, minRows: number }): Promise<string | undefined> {
    const { store } = this.#options
    const slice = new WorkSlice(SLICE_MS)
    const tooMany: string[] = []
    for (const entity of DELETION_ORDER) {
      // As the deletions below: nothing of a kind an unidentifiable refused item stands for, nor the role
      // assignments and env listings of a membership whose item was refused.
      if (keys.undeletable.has(entity)) continue
      let live = 0
      let absent = 0
      for (let after: Record<string, string | number> | undefined, full = true; full;) {
        const page = await store.liveKeys(entity, KEY_PAGE, after, version)
        full = page.length === KEY_PAGE
        after = page[page.length - 1]
        live += page.length
        for (const key of page) {
          if (!keys[entity].has(rowKey(entity, key)) && !keptBelow(keys, entity, key)) absent++
        }
        await slice.turn()
      }
      if (absent >= minRows && absent > fraction * live) tooMany.push(`${absent} of ${live} ${ENTITY_NAMES[entity]}`)
    }
    if (tooMany.length === 0) return undefined
    return `mass deletion, nothing written: the snapshot would delete ${tooMany.join(', ')} (more than RECONCILE_MAX_DELETE_FRACTION=${fraction} ` +
      `of a kind, and at least RECONCILE_MASS_DELETE_MIN_ROWS=${minRows}); if SaaSus's state is right, run npm run reconcile -- --allow-mass-delete`
  }

  /** Applies the snapshot; true when it raised the floor to `version` (not for a dry run, nor with refused items). */
  async #apply (snapshot: Snapshot, keys: SnapshotKeys, runId: string, version: Version, drift: Drift, dryRun: boolean, renew: (always: boolean) => Promise<void>, heartbeat: Heartbeat): Promise<boolean> {
    const { store, chunkSize, chunkTargetMs, chunkTimeoutMs, intakeTurn, analyzeEveryMs } = this.#options
    const cause: WriteCause = { kind: 'reconcile', runId }
    for (const r of snapshot.refused) {
      refuse(drift, r.entity, { id: r.key === undefined ? null : reportId(REFUSED_ENTITY[r.entity], r.key), field: r.field, reason: r.reason })
    }
    const slice = new WorkSlice(SLICE_MS)
    const statistics = new AnalyzeSchedule(analyzeEveryMs)
    let tables: Entity[] = []
    /** One chunk of `rows` snapshot rows: after the event batches waiting, in one transaction, timed for `sizer`. */
    const chunk = async (sizer: ChunkSizer, rows: number, work: (reader: ChunkReader) => Promise<PlannedItem[]>): Promise<void> => {
      if (intakeTurn !== undefined) await giveWay(intakeTurn(), GIVE_WAY_POLL_MS, MAX_GIVE_WAY_MS)
      await renew(false)
      const started = performance.now()
      const outcomes = await heartbeat.hold(async () => await store.chunk(cause, dryRun, chunkTimeoutMs, async reader => {
        const planned = await work(reader)
        const writes = planned.filter(p => p.changes.length > 0)
        const applied = writes.length > 0 ? await reader.apply(writes.map(p => p.changes)) : new Set<number>()
        let w = 0
        // A write the guards refused (a newer event here) leaves the row as it is: unchanged.
        return planned.map(p => ({ ...p, kind: p.changes.length === 0 || applied.has(w++) ? p.kind : 'unchanged' as const }))
      }))
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
    const tenantsPart = (part: SaasusTenant[]) => async (reader: ChunkReader): Promise<PlannedItem[]> => {
      const ids = part.map(t => t.id)
      return planTenants(part, await reader.tenants(ids), await reader.attributes('tenant', ids), version, this.#options.now?.())
    }
    const usersPart = (part: SaasusSaasUser[]) => async (reader: ChunkReader): Promise<PlannedItem[]> => {
      const ids = part.map(u => u.id)
      return planUsers(part, await reader.users(ids), await reader.attributes('user', ids), version)
    }
    const membershipsPart = (part: SaasusTenantUser[]) => async (reader: ChunkReader): Promise<PlannedItem[]> => {
      const userIds = unique(part.map(m => m.id))
      const [tenants, users, below] = [await reader.tenants(unique(part.map(m => m.tenant_id))), await reader.users(userIds), await reader.memberships(userIds)]
      return planMemberships(part, { tenants, users, ...below }, version)
    }

    await inChunks(['role'], snapshot.roles, part => async reader => planRoles(part, await reader.roles(), version))
    await inChunks(['env'], snapshot.envs, part => async reader => planEnvs(part, await reader.envs(), version))
    await inChunks(['tenant'], snapshot.tenants, tenantsPart)
    await inChunks(['user'], snapshot.users, usersPart)
    await inChunks(['tenant_user', ...BELOW_MEMBERSHIP], await byUser(snapshot.memberships, slice), membershipsPart)
    // Statistics of the tables as the snapshot left them, for the deletions and the event batches after.
    if (!dryRun && statistics.pending > 0) {
      await store.analyze()
      statistics.analyzed()
    }
    for (const entity of DELETION_ORDER) {
      if (keys.undeletable.has(entity)) continue
      phase([entity])
      const sizer = new ChunkSizer(chunkTargetMs, chunkSize)
      // Page by page in key order: deleting rows behind the cursor never moves it.
      for (let after: Record<string, string | number> | undefined, full = true; full;) {
        const page = await store.liveKeys(entity, KEY_PAGE, after)
        full = page.length === KEY_PAGE
        after = page[page.length - 1]
        const deletions = planDeletions(entity, page.filter(k => !keptBelow(keys, entity, k)), keys[entity], version)
        await slice.turn()
        for (let at = 0; at < deletions.length;) {
          const part = deletions.slice(at, at + sizer.size)
          at += part.length
          await chunk(sizer, part.length, async () => part)
        }
      }
    }
    // With items refused, the snapshot does not say what those rows hold: the floor must not cover them.
    if (dryRun || snapshot.refused.length > 0) return false

    // Rows that writes older than the snapshot changed while it was applied (the journal) are compared with
    // it again, then the floor is raised in the transaction that finds the journal empty.
    const index = await snapshotIndex(snapshot, slice)
    phase(Object.keys(ENTITIES) as Entity[])
    const sizer = new ChunkSizer(chunkTargetMs, JOURNAL_PAGE)
    for (let attempt = 1; ; attempt++) {
      for (let entries = await store.journal(JOURNAL_PAGE); entries.length > 0; entries = await store.journal(JOURNAL_PAGE)) {
        await chunk(sizer, entries.length, async reader => {
          const planned = await this.#replan(entries, index, keys, reader, version)
          await reader.forget(entries)
          return planned
        })
      }
      await renew(false)
      if (await heartbeat.hold(async () => await store.raiseFloor(version))) return true
      if (attempt === MAX_FLOOR_ATTEMPTS) throw new Error(`writes older than the snapshot kept landing: the floor was not raised after ${attempt} attempts`)
    }
  }

  /**
   * The journaled rows compared with the snapshot again: each as its phase compares it (a tenant or user
   * with its attribute keys; a user's memberships, role assignments and env listings all together), deleted when the
   * snapshot does not hold it.
   */
  async #replan (entries: JournalEntry[], index: SnapshotIndex, keys: Record<Entity, Set<string>>, reader: ChunkReader, version: Version): Promise<PlannedItem[]> {
    const planned: PlannedItem[] = []
    const ids = (entity: Entity) => entries.filter(e => e.entity === entity).map(e => JSON.parse(e.key) as string[])
    const absent = (entity: Entity, live: Array<Record<string, string | number>>): void => {
      planned.push(...planDeletions(entity, live, keys[entity], version))
    }
    const tenantIds = ids('tenant').map(([id]) => id)
    if (tenantIds.length > 0) {
      const rows = await reader.tenants(tenantIds)
      const items = tenantIds.flatMap(id => index.tenants.get(id) ?? [])
      planned.push(...planTenants(items, rows, await reader.attributes('tenant', items.map(t => t.id)), version, this.#options.now?.()))
      absent('tenant', rows.filter(r => r.live && !index.tenants.has(r.id)).map(r => ({ id: r.id })))
    }
    // A tenant's or user's delete hides what hangs below it: their memberships are compared again too.
    const userIds = unique([
      ...ids('user').map(([id]) => id),
      ...(['tenant_user', ...BELOW_MEMBERSHIP] as Entity[]).flatMap(e => ids(e).map(([, userId]) => userId)),
      ...tenantIds.flatMap(id => index.members.get(id) ?? [])
    ])
    if (userIds.length > 0) {
      const rows = await reader.users(userIds)
      const items = userIds.flatMap(id => index.users.get(id) ?? [])
      planned.push(...planUsers(items, rows, await reader.attributes('user', items.map(u => u.id)), version))
      absent('user', rows.filter(r => r.live && !index.users.has(r.id)).map(r => ({ id: r.id })))
      const memberships = userIds.flatMap(id => index.memberships.get(id) ?? [])
      const below = await reader.memberships(userIds)
      const tenants = await reader.tenants(unique(memberships.map(m => m.tenant_id)))
      planned.push(...planMemberships(memberships, { tenants, users: rows, ...below }, version))
      absent('tenant_user', below.memberships.filter(m => m.live).map(m => ({ tenant_id: m.tenantId, user_id: m.userId })))
      absent('tenant_user_role', below.roles.filter(r => r.live).map(r => ({ tenant_id: r.tenantId, user_id: r.userId, env_id: Number(r.envId), role_name: r.roleName })))
      absent('tenant_user_env', below.listings.filter(l => l.live).map(l => ({ tenant_id: l.tenantId, user_id: l.userId, env_id: Number(l.envId) })))
    }
    if (entries.some(e => e.entity === 'role')) {
      const rows = await reader.roles()
      planned.push(...planRoles(index.roles, rows, version))
      absent('role', rows.filter(r => r.live).map(r => ({ role_name: r.roleName })))
    }
    if (entries.some(e => e.entity === 'env')) {
      const rows = await reader.envs()
      planned.push(...planEnvs(index.envs, rows, version))
      absent('env', rows.filter(r => r.live).map(r => ({ id: Number(r.id) })))
    }
    return planned
  }
}
