import { sqltag as sql } from '@prisma/client/runtime/client'
import type { PrismaClient, Tenant, User } from '../generated/sqlite/client.js'
import type { DecodedEvent } from '../events/decode.js'
import type { Change, Plan } from '../events/changes.js'
import { parseEvent } from '../events/parse.js'
import type { Dialect } from './dialect.js'
import { attributesUpsert, registerUpsert } from './guarded-upsert.js'
import { tenantView, userView, type TenantView, type UserView } from './views.js'

export type Outcome = 'applied' | 'stale' | 'duplicate' | 'ignored'

export interface TransactionLimits {
  /** How long a request may wait for the database to start its transaction (ms). */
  maxWaitMs: number
  /** How long one transaction may run (ms). */
  timeoutMs: number
}

export interface EventView {
  id: string
  event_type: string
  time: string
  log_id: string | null
  trace_id: string | null
  uri: string | null
  method: string | null
  http_status: number | null
  received_at: string
  outcome: string
  event: unknown
}

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface QuarantineEntry {
  envelopeId: string | null
  field: string
  error: string
  /** The refused item, secrets already redacted. */
  raw: unknown
}

type Client = Pick<PrismaClient, '$executeRaw'>

/** The database behind the receiver: the event inbox, the quarantine and the projected state. */
export class Repository {
  constructor (
    readonly prisma: PrismaClient,
    readonly dialect: Dialect,
    readonly limits: TransactionLimits
  ) {}

  /**
   * Records an event and applies its changes in one transaction. The inbox row goes first: when its
   * envelope id or its SaaSus log_id is already there, nothing is written and the event is a duplicate.
   */
  async record (event: DecodedEvent, plan: Plan, receivedAt: Date = new Date()): Promise<Outcome> {
    return await this.prisma.$transaction(async tx => {
      const initial: Outcome = plan.kind === 'ignored' ? 'ignored' : 'applied'
      const inserted = await tx.$executeRaw(sql`INSERT INTO "events"
        ("id", "event_type", "time", "log_id", "trace_id", "uri", "method", "http_status", "received_at", "outcome", "raw")
        VALUES (${event.id}, ${event.eventType}, ${event.time}, ${event.logId}, ${event.traceId}, ${event.uri},
          ${event.method}, ${event.httpStatus}, ${receivedAt}, ${initial}, ${this.dialect.json(event.redacted)})
        ON CONFLICT DO NOTHING`)
      if (inserted === 0) return 'duplicate'
      if (plan.kind === 'ignored') return 'ignored'
      if (await this.apply(tx, plan.changes) > 0) return 'applied'
      await tx.$executeRaw(sql`UPDATE "events" SET "outcome" = ${'stale'} WHERE "id" = ${event.id}`)
      return 'stale'
    }, { maxWait: this.limits.maxWaitMs, timeout: this.limits.timeoutMs })
  }

  /** Runs the guarded writes of some changes; returns how many rows they changed. */
  private async apply (client: Client, changes: Change[]): Promise<number> {
    let written = 0
    for (const change of changes) {
      const statement = change.kind === 'register' ? registerUpsert(change, this.dialect) : attributesUpsert(change, this.dialect)
      if (statement !== undefined) written += await client.$executeRaw(statement)
    }
    return written
  }

  /** Keeps a request that passed authentication but not validation, with the reason. */
  async quarantine (entry: QuarantineEntry, receivedAt: Date = new Date()): Promise<void> {
    await this.prisma.quarantinedEvent.create({
      data: { envelopeId: entry.envelopeId, field: entry.field, error: entry.error, raw: entry.raw as object, receivedAt }
    })
  }

  async quarantined (): Promise<QuarantineEntry[]> {
    const rows = await this.prisma.quarantinedEvent.findMany({ orderBy: { id: 'asc' } })
    return rows.map(r => ({ envelopeId: r.envelopeId, field: r.field, error: r.error, raw: r.raw }))
  }

  /**
   * Drops the projected state and applies every recorded event again, in storage order, with the current
   * code: how a new projection is back-filled. One transaction, so readers see the old state until it ends.
   */
  async rebuild (timeoutMs = 10 * 60_000): Promise<{ events: number, unreadable: number }> {
    return await this.prisma.$transaction(async tx => {
      for (const table of ['tenants', 'users', 'tenant_users', 'tenant_user_roles', 'roles', 'envs', 'attribute_values']) {
        await tx.$executeRawUnsafe(`DELETE FROM "${table}"`)
      }
      let events = 0
      let unreadable = 0
      let cursor: { receivedAt: Date, id: string } | undefined
      for (;;) {
        const page = await tx.event.findMany({
          where: cursor === undefined
            ? {}
            : { OR: [{ receivedAt: { gt: cursor.receivedAt } }, { receivedAt: cursor.receivedAt, id: { gt: cursor.id } }] },
          orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
          take: 500
        })
        if (page.length === 0) break
        for (const row of page) {
          events++
          const parsed = parseEvent(row.raw)
          if (!parsed.ok) { unreadable++; continue }
          if (parsed.plan.kind === 'changes') await this.apply(tx, parsed.plan.changes)
        }
        const last = page[page.length - 1]
        cursor = { receivedAt: last.receivedAt, id: last.id }
      }
      return { events, unreadable }
    }, { maxWait: this.limits.maxWaitMs, timeout: timeoutMs })
  }

  async tenant (id: string): Promise<TenantView | undefined> {
    const row = await this.prisma.tenant.findFirst({ where: { id, live: true } })
    return row === null ? undefined : (await this.tenantViews([row]))[0]
  }

  async tenants (cursor: string | undefined, limit: number): Promise<Page<TenantView>> {
    const rows = await this.prisma.tenant.findMany({
      where: { live: true, ...(cursor === undefined ? {} : { id: { gt: cursor } }) },
      orderBy: { id: 'asc' },
      take: limit + 1
    })
    const items = await this.tenantViews(rows.slice(0, limit))
    return { items, next_cursor: rows.length > limit ? items[items.length - 1].id : null }
  }

  private async tenantViews (rows: Tenant[]): Promise<TenantView[]> {
    const ids = rows.map(r => r.id)
    const [attributes, memberships] = await Promise.all([
      this.prisma.attributeValue.findMany({ where: { scope: 'tenant', tenantId: { in: ids } } }),
      this.prisma.tenantUser.findMany({ where: { tenantId: { in: ids }, live: true } })
    ])
    const users = await this.prisma.user.findMany({ where: { id: { in: [...new Set(memberships.map(m => m.userId))] }, live: true } })
    const userById = new Map(users.map(u => [u.id, u]))
    return rows.map(t => tenantView(
      t, attributes.filter(a => a.tenantId === t.id), memberships.filter(m => m.tenantId === t.id), userById))
  }

  async user (id: string): Promise<UserView | undefined> {
    const row = await this.prisma.user.findFirst({ where: { id, live: true } })
    return row === null ? undefined : (await this.userViews([row]))[0]
  }

  async users (cursor: string | undefined, limit: number): Promise<Page<UserView>> {
    const rows = await this.prisma.user.findMany({
      where: { live: true, ...(cursor === undefined ? {} : { id: { gt: cursor } }) },
      orderBy: { id: 'asc' },
      take: limit + 1
    })
    const items = await this.userViews(rows.slice(0, limit))
    return { items, next_cursor: rows.length > limit ? items[items.length - 1].id : null }
  }

  private async userViews (rows: User[]): Promise<UserView[]> {
    const ids = rows.map(r => r.id)
    const [attributes, memberships, roles] = await Promise.all([
      this.prisma.attributeValue.findMany({ where: { scope: { in: ['user', 'tenant_user'] }, userId: { in: ids } } }),
      this.prisma.tenantUser.findMany({ where: { userId: { in: ids }, live: true } }),
      this.prisma.tenantUserRole.findMany({ where: { userId: { in: ids }, live: true } })
    ])
    const tenants = await this.prisma.tenant.findMany({ where: { id: { in: [...new Set(memberships.map(m => m.tenantId))] }, live: true } })
    const tenantById = new Map(tenants.map(t => [t.id, t]))
    return rows.map(u => userView(
      u,
      attributes.filter(a => a.userId === u.id),
      memberships.filter(m => m.userId === u.id),
      tenantById,
      roles.filter(r => r.userId === u.id)))
  }

  async event (id: string): Promise<EventView | undefined> {
    const row = await this.prisma.event.findUnique({ where: { id } })
    if (row === null) return undefined
    return {
      id: row.id,
      event_type: row.eventType,
      time: row.time.toISOString(),
      log_id: row.logId,
      trace_id: row.traceId,
      uri: row.uri,
      method: row.method,
      http_status: row.httpStatus,
      received_at: row.receivedAt.toISOString(),
      outcome: row.outcome,
      event: row.raw
    }
  }

  /** A round trip to the database, for readiness checks. */
  async ping (): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`
  }

  async close (): Promise<void> {
    await this.prisma.$disconnect()
  }
}
