import { sqltag as sql } from '@prisma/client/runtime/client'
import type { PrismaClient } from '../generated/sqlite/client.js'
import type { DecodedEvent } from '../events/decode.js'
import type { Plan } from '../events/changes.js'
import { versionTime, type Version } from '../events/version.js'
import type { Dialect } from './dialect.js'
import { guardedUpsert } from './guarded-upsert.js'

export type Outcome = 'applied' | 'stale' | 'duplicate' | 'ignored'

export interface TransactionLimits {
  /** How long a request may wait for the database to start its transaction (ms). */
  maxWaitMs: number
  /** How long one transaction may run (ms). */
  timeoutMs: number
}

export interface TenantView {
  id: string
  name: string | null
  attributes: unknown
  back_office_staff_email: string | null
  updated_at: string
}

export interface UserView {
  id: string
  email: string | null
  sign_in_id: string | null
  attributes: unknown
  updated_at: string
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

/** The time of the newest event that wrote any of a row's registers. */
const updatedAt = (...versions: string[]): string =>
  versionTime(versions.reduce((a, b) => (a > b ? a : b)) as Version).toISOString()

/** The database behind the receiver: the event inbox and the projected tenants and users. */
export class Repository {
  constructor (
    readonly prisma: PrismaClient,
    readonly dialect: Dialect,
    readonly limits: TransactionLimits
  ) {}

  /**
   * Records an event and applies its changes in one transaction. The inbox row goes first: when the
   * envelope id is already there, nothing is written and the event is a duplicate.
   */
  async record (event: DecodedEvent, plan: Plan, receivedAt: Date = new Date()): Promise<Outcome> {
    return await this.prisma.$transaction(async tx => {
      const initial: Outcome = plan.kind === 'ignored' ? 'ignored' : 'applied'
      const inserted = await tx.$executeRaw(sql`INSERT INTO "events"
        ("id", "event_type", "time", "log_id", "trace_id", "uri", "method", "http_status", "received_at", "outcome", "raw")
        VALUES (${event.id}, ${event.eventType}, ${event.time}, ${event.logId}, ${event.traceId}, ${event.uri},
          ${event.method}, ${event.httpStatus}, ${receivedAt}, ${initial}, ${this.dialect.json(event.redacted)})
        ON CONFLICT ("id") DO NOTHING`)
      if (inserted === 0) return 'duplicate'
      if (plan.kind === 'ignored') return 'ignored'

      let written = 0
      for (const change of plan.changes) written += await tx.$executeRaw(guardedUpsert(change, this.dialect))
      if (written > 0) return 'applied'
      await tx.$executeRaw(sql`UPDATE "events" SET "outcome" = ${'stale'} WHERE "id" = ${event.id}`)
      return 'stale'
    }, { maxWait: this.limits.maxWaitMs, timeout: this.limits.timeoutMs })
  }

  async tenant (id: string): Promise<TenantView | undefined> {
    const row = await this.prisma.tenant.findFirst({ where: { id, live: true } })
    if (row === null) return undefined
    return {
      id: row.id,
      name: row.name,
      attributes: row.attributes,
      back_office_staff_email: row.backOfficeStaffEmail,
      updated_at: updatedAt(row.liveV, row.nameV, row.attributesV, row.backOfficeStaffEmailV)
    }
  }

  async user (id: string): Promise<UserView | undefined> {
    const row = await this.prisma.user.findFirst({ where: { id, live: true } })
    if (row === null) return undefined
    return {
      id: row.id,
      email: row.email,
      sign_in_id: row.signInId,
      attributes: row.attributes,
      updated_at: updatedAt(row.liveV, row.emailV, row.signInIdV, row.attributesV)
    }
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

  /**
   * Deletes inbox rows received before `cutoff`, `batchSize` rows per transaction so that the write lock is
   * never held for long while events keep arriving. Tenants and users are not touched. Returns the count.
   */
  async pruneEvents (cutoff: Date, batchSize = 1000): Promise<number> {
    let total = 0
    for (;;) {
      const deleted = await this.prisma.$executeRaw(sql`DELETE FROM "events" WHERE "id" IN
        (SELECT "id" FROM "events" WHERE "received_at" < ${cutoff} LIMIT ${batchSize})`)
      total += deleted
      if (deleted < batchSize) return total
    }
  }

  /** Names of the migrations recorded as finished, for readiness checks. */
  async appliedMigrations (): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<Array<{ migration_name: string }>>(sql`SELECT "migration_name" FROM "_prisma_migrations"
      WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`)
    return rows.map(r => r.migration_name)
  }

  /** A round trip to the database, for readiness checks. */
  async ping (): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`
  }

  async close (): Promise<void> {
    await this.prisma.$disconnect()
  }
}
