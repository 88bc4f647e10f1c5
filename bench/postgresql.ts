import pg from 'pg'

// The PostgreSQL server the bench scripts measure (BENCH_DATABASE_URL, default: the local server's `test`
// database), each run in a schema of its own.

export const BENCH_PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

/** A connection for creating and dropping bench schemas, or undefined when no server answers. */
export async function postgresAdmin (): Promise<pg.Client | undefined> {
  const admin = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 2000 })
  return await admin.connect().then(() => admin, () => undefined)
}

/** BENCH_PG_URL pointed at `schema` (the receiver creates it when it migrates). */
export function schemaUrl (schema: string): string {
  const url = new URL(BENCH_PG_URL)
  url.searchParams.set('schema', schema)
  return url.toString()
}

export const skippedMessage = (): string => `PostgreSQL: no server at ${new URL(BENCH_PG_URL).host}, skipped`
