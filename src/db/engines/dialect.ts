import { raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'

/** How a column's value travels inside the JSON parameter of a multi-row statement. */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean' | 'timestamp' | 'json' | 'json_text'

/** Everything that differs between the SQL engines, in one place. The statements themselves are shared. */
export interface Dialect {
  name: 'sqlite' | 'postgresql'
  /** The greater of two text versions. */
  greatest: (a: Sql, b: Sql) => Sql
  /**
   * `SELECT <typed columns> FROM <rows>`: many rows bound as ONE JSON parameter (an array of arrays), read
   * back in array order. One short, constant statement text instead of hundreds of bound parameters is
   * what makes a batch cheap: Prisma's driver adapters map and bind every parameter one by one, and the
   * statement cache (statement-cache.ts) can only reuse a text it has seen. Cells are given as plain values:
   * a `json` cell travels as its JSON text (null stays SQL NULL), a `json_text` cell is JSON text already
   * (so a JSON null is stored as JSON, not as SQL NULL), a `timestamp` cell (a Date) as the text
   * the engine stores, so rows end up exactly as single-row statements would write them.
   */
  rows: (types: readonly ColumnType[], rows: unknown[][]) => Sql
  /** Appended to a SELECT that must hold a shared row lock until the transaction ends (nothing on SQLite, whose writer is alone anyway). */
  forShare: Sql
  /**
   * `IN (<select>)` as the engine finds it with its indexes: on PostgreSQL `= ANY(ARRAY(<select>))`, the
   * list computed once and each value looked up in the index, where `IN (<select>)`, OR'd with others,
   * became a hashed subplan filtering a whole table.
   */
  inSet: (select: Sql) => Sql
  /** A JSON column as its stored JSON text (to be sent as it is, never parsed): `null` for SQL NULL. */
  jsonText: (column: Sql) => Sql
  /**
   * Whether writing transactions run at once (PostgreSQL), so that each must lock what it reads and writes
   * (feed/feed-locks.ts), or one at a time (SQLite's one writer).
   */
  concurrentWriters: boolean
}

/** The JSON parameter of `rows`: json and timestamp cells encoded, the others as they are. */
function rowsParameter (types: readonly ColumnType[], rows: unknown[][], timestamp: (value: Date) => string): string {
  const encode = (value: unknown, type: ColumnType): unknown =>
    value === null || value === undefined ? null : type === 'json' ? JSON.stringify(value) : type === 'timestamp' ? timestamp(value as Date) : value
  return JSON.stringify(rows.map(row => row.map((value, i) => encode(value, types[i]))))
}

const PG_TYPES: Record<ColumnType, string> = { text: 'text', integer: 'integer', bigint: 'bigint', boolean: 'boolean', timestamp: 'timestamptz', json: 'jsonb', json_text: 'jsonb' }

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
  // `WHERE true` keeps SQLite from reading a following ON CONFLICT as part of the SELECT.
  // Timestamps as Prisma's SQLite adapter stores a DateTime.
  rows: (types, rows) => sql`SELECT ${raw(types.map((_, i) => `value ->> ${i}`).join(', '))}
    FROM json_each(${rowsParameter(types, rows, value => value.toISOString().replace('Z', '+00:00'))}) WHERE true`,
  forShare: raw(''),
  inSet: select => sql`IN (${select})`,
  // No declared type, so the driver hands the text over as it is.
  jsonText: column => sql`CAST(${column} AS TEXT)`,
  concurrentWriters: false
}

export const postgresqlDialect: Dialect = {
  name: 'postgresql',
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  rows: (types, rows) => sql`SELECT ${raw(types.map((t, i) => `(e.v ->> ${i})::${PG_TYPES[t]}`).join(', '))}
    FROM jsonb_array_elements(${rowsParameter(types, rows, value => value.toISOString())}::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY e.n`,
  forShare: raw(' FOR SHARE'),
  inSet: select => sql`= ANY(ARRAY(${select}))`,
  jsonText: column => sql`(${column})::text`,
  concurrentWriters: true
}

/** A SQL identifier from this code base's own constants (never from event data). */
export const identifier = (name: string): Sql => raw(`"${name}"`)
