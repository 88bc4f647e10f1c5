import { raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'

/** How a column's value travels inside the JSON parameter of a multi-row statement. */
export type ColumnType = 'text' | 'integer' | 'boolean' | 'timestamp' | 'json'

/** Everything that differs between the SQL engines, in one place. The statements themselves are shared. */
export interface Dialect {
  name: 'sqlite' | 'postgresql'
  /** The greater of two text versions. */
  greatest: (a: Sql, b: Sql) => Sql
  /**
   * `SELECT <typed columns> FROM <rows>`: many rows bound as ONE JSON parameter (an array of arrays), read
   * back in array order. One short statement text instead of hundreds of bound parameters is what makes
   * a batch cheap: Prisma's driver adapters map and bind every parameter, and better-sqlite3 prepares the
   * statement anew on every call. JSON columns travel as their JSON text, timestamps as the text each
   * engine stores, so rows end up exactly as single-row statements would write them.
   */
  rows: (types: readonly ColumnType[], rows: unknown[][]) => Sql
  /** A timestamp as `rows` expects it. */
  timestamp: (value: Date) => string
}

/** A JSON column's value inside `rows` (null stays SQL NULL). */
export const jsonText = (value: unknown): string | null => value === null || value === undefined ? null : JSON.stringify(value)

const PG_TYPES: Record<ColumnType, string> = { text: 'text', integer: 'integer', boolean: 'boolean', timestamp: 'timestamptz', json: 'jsonb' }

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
  // `WHERE true` keeps SQLite from reading a following ON CONFLICT as part of the SELECT.
  rows: (types, rows) => sql`SELECT ${raw(types.map((_, i) => `value ->> ${i}`).join(', '))} FROM json_each(${JSON.stringify(rows)}) WHERE true`,
  // What Prisma's SQLite adapter stores for a DateTime.
  timestamp: value => value.toISOString().replace('Z', '+00:00')
}

export const postgresqlDialect: Dialect = {
  name: 'postgresql',
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  rows: (types, rows) => sql`SELECT ${raw(types.map((t, i) => `(e.v ->> ${i})::${PG_TYPES[t]}`).join(', '))}
    FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY e.n`,
  timestamp: value => value.toISOString()
}

/** A SQL identifier from this code base's own constants (never from event data). */
export const identifier = (name: string): Sql => raw(`"${name}"`)
