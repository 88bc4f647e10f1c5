import type { Config } from '../config.js'
import { Repository } from './repository.js'
import { engineOf, migrateDatabase, openDatabase } from './engines/engine.js'

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
  /** An idle-time WAL checkpoint failed (SQLite); SQLite's own checkpoints carry on. */
  onCheckpointError?: (err: unknown) => void
  /** Apply pending migrations first (default). Maintenance that must not create a schema says false. */
  migrate?: boolean
}

/** Batches written at once: SQLite has one writer; PostgreSQL overlaps a few, leaving a pooled connection for reads. */
export function batchConcurrency (config: Pick<Config, 'BATCH_CONCURRENCY' | 'DATABASE_URL' | 'PG_POOL_MAX'>): number {
  if (config.BATCH_CONCURRENCY > 0) return config.BATCH_CONCURRENCY
  return engineOf(config.DATABASE_URL) === 'sqlite' ? 1 : Math.max(1, Math.min(4, config.PG_POOL_MAX - 1))
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
    batchConcurrency: batchConcurrency(config),
    retries: config.DB_RETRY_ATTEMPTS,
    onRetry: hooks.onRetry ?? (() => {}),
    checkpointEvents: config.SQLITE_CHECKPOINT_EVENTS,
    onCheckpointError: hooks.onCheckpointError,
    quarantineMaxRows: config.QUARANTINE_MAX_ROWS,
    quarantineMaxBytes: config.QUARANTINE_MAX_BYTES
  })
  return { repository, applied }
}
