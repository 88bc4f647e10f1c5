import { raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'

/** Everything that differs between the SQL engines, in one place. The statements themselves are shared. */
export interface Dialect {
  name: 'sqlite' | 'postgresql'
  /** The greater of two text versions. */
  greatest: (a: Sql, b: Sql) => Sql
  /** A bound JSON value for a JSON column (SQL NULL for null). */
  json: (value: unknown) => Sql
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
  json: value => value === null ? sql`NULL` : sql`${JSON.stringify(value)}`
}

export const postgresqlDialect: Dialect = {
  name: 'postgresql',
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  json: value => value === null ? sql`NULL` : sql`${JSON.stringify(value)}::jsonb`
}

/** A SQL identifier from this code base's own constants (never from event data). */
export const identifier = (name: string): Sql => raw(`"${name}"`)
