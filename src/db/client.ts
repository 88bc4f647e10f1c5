import type { Sql } from '@prisma/client/runtime/client'
import type { PrismaClient as PostgresqlClient } from '../generated/postgresql/client.js'
import type { Event, Tenant, User } from '../generated/sqlite/client.js'

/** The raw-SQL part of a client, also all a transaction needs. */
export interface DatabaseTransaction {
  $executeRaw: (query: Sql) => PromiseLike<number>
}

/**
 * What the repository uses of a Prisma client, structurally, with the SQLite client's row types. The two
 * generated clients (one per engine, from schemas a test keeps equal) both fit it: the SQLite client where
 * it is passed to the Repository, the PostgreSQL one through the function below, at compile time.
 */
export interface DatabaseClient extends DatabaseTransaction {
  $transaction: <R>(fn: (tx: DatabaseTransaction) => Promise<R>, options: { maxWait: number, timeout: number }) => Promise<R>
  $queryRaw: (query: Sql) => PromiseLike<unknown>
  $disconnect: () => Promise<void>
  tenant: { findFirst: (args: { where: { id: string, live: boolean } }) => PromiseLike<Tenant | null> }
  user: { findFirst: (args: { where: { id: string, live: boolean } }) => PromiseLike<User | null> }
  event: { findUnique: (args: { where: { id: string } }) => PromiseLike<Event | null> }
}

export const postgresqlDatabaseClient = (client: PostgresqlClient): DatabaseClient => client
