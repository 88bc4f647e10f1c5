import type { PrismaClient as PostgresqlClient } from '../../generated/postgresql/client.js'
import type { PrismaClient as SqliteClient } from '../../generated/sqlite/client.js'

/**
 * The client the repository works through. Prisma generates one client per engine from two schemas that
 * a test keeps equal but for the provider and native types (test/migrations.test.ts), so their model APIs
 * are the same; the SQLite client's type stands for both.
 */
export type DatabaseClient = SqliteClient

/** The PostgreSQL client seen through the shared type (the generated types differ only in brand). */
export const postgresqlDatabaseClient = (client: PostgresqlClient): DatabaseClient => client as unknown as DatabaseClient
