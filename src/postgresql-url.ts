// DATABASE_URL for PostgreSQL: pg's own URL syntax, plus Prisma's `?schema=<name>` parameter.

export interface PostgresqlTarget {
  /** The URL without the `schema` parameter, for pg. */
  connectionString: string
  schema: string
}

/** Lower-case identifiers only, so the name needs no quoting anywhere (search_path, Prisma, DDL). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Splits a PostgreSQL DATABASE_URL into pg's connection string and the schema; throws a message for the operator. */
export function postgresqlTarget (url: string): PostgresqlTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error('DATABASE_URL: not a valid postgresql:// URL')
  }
  const schema = parsed.searchParams.get('schema') ?? 'public'
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`DATABASE_URL: schema "${schema}" must be lower-case letters, digits and _ (at most 63, not starting with a digit)`)
  }
  parsed.searchParams.delete('schema')
  return { connectionString: parsed.toString(), schema }
}
