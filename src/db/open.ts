import type { Config } from '../config.js'
import { Repository } from './repository.js'
import { migrateDatabase, openDatabase } from './engine.js'

export interface Opened {
  repository: Repository
  /** Migrations this start applied. */
  applied: string[]
}

export interface OpenHooks {
  /** An idle pooled connection failed (PostgreSQL); the pool replaces it. */
  onPoolError?: (err: Error) => void
  /** A transient error is about to be retried. */
  onRetry?: (err: unknown, retry: number) => void
  /** Apply pending migrations first (default). Maintenance that must not create a schema says false. */
  migrate?: boolean
}

/** Migrates, then opens the repository the service and the maintenance scripts work through. */
export async function openRepository (config: Config, hooks: OpenHooks = {}): Promise<Opened> {
  const applied = hooks.migrate === false ? [] : await migrateDatabase(config)
  const { prisma, dialect } = await openDatabase(config, hooks.onPoolError)
  const repository = new Repository(prisma, dialect, {
    maxWaitMs: config.TRANSACTION_MAX_WAIT_MS,
    timeoutMs: config.TRANSACTION_TIMEOUT_MS,
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    batchMaxWaitMs: config.BATCH_MAX_WAIT_MS,
    retries: config.DB_RETRY_ATTEMPTS,
    onRetry: hooks.onRetry ?? (() => {})
  })
  return { repository, applied }
}
