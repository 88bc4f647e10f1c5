import { setTimeout as sleep } from 'node:timers/promises'
import { sqltag as sql } from '@prisma/client/runtime/client'
import type { DatabaseClient } from './client.js'
import type { DecodedEvent } from '../events/decode.js'
import type { Plan } from '../events/changes.js'
import { versionTime, type Version } from '../events/version.js'
import type { Dialect } from './dialect.js'
import { guardedUpsert } from './guarded-upsert.js'
import { isTransientDatabaseError } from './transient.js'

export type Outcome = 'applied' | 'stale' | 'duplicate' | 'ignored'

export interface TransactionLimits {
  /** How long a request may wait for the database to start its transaction (ms). */
  maxWaitMs: number
  /** How long one transaction may run (ms); retries share this budget. */
  timeoutMs: number
  /** How many times a transaction that failed with a transient error is tried again. */
  retries: number
  /** Called before each retry, for the log. */
  onRetry: (err: unknown, retry: number) => void
}

/** The shortest transaction worth starting: Prisma's own lower bound on a transaction's time-out is 100 ms. */
const MIN_ATTEMPT_MS = 100

/** A small, jittered, growing pause before retry `n` (0-based): about 25, 50, 100 ms. */
export const retryPauseMs = (n: number): number => Math.round(25 * 2 ** n * (0.5 + Math.random()))

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
    readonly prisma: DatabaseClient,
    readonly dialect: Dialect,
    readonly limits: TransactionLimits
  ) {}

  /**
   * Records an event and applies its changes in one transaction. The inbox row goes first: when the
   * envelope id is already there, nothing is written and the event is a duplicate. A transient failure
   * (lock, deadlock, serialization failure, lost connection, statement time-out) rolls the transaction back;
   * it is tried again up to `limits.retries` times while the `timeoutMs` budget lasts, then thrown.
   */
  async record (event: DecodedEvent, plan: Plan, receivedAt: Date = new Date()): Promise<Outcome> {
    const deadline = Date.now() + this.limits.timeoutMs
    for (let retry = 0; ; retry++) {
      try {
        return await this.recordOnce(event, plan, receivedAt, Math.max(MIN_ATTEMPT_MS, deadline - Date.now()))
      } catch (err) {
        const pause = retryPauseMs(retry)
        if (retry >= this.limits.retries || !isTransientDatabaseError(err) || Date.now() + pause + MIN_ATTEMPT_MS > deadline) throw err
        this.limits.onRetry(err, retry + 1)
        await sleep(pause)
      }
    }
  }

  private async recordOnce (event: DecodedEvent, plan: Plan, receivedAt: Date, timeoutMs: number): Promise<Outcome> {
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
    }, { maxWait: this.limits.maxWaitMs, timeout: timeoutMs })
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

  /** A round trip to the database, for readiness checks. */
  async ping (): Promise<void> {
    await this.prisma.$queryRaw(sql`SELECT 1`)
  }

  async close (): Promise<void> {
    await this.prisma.$disconnect()
  }
}
