import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import tap, { type Test, type TestOpts } from 'tap'
import type { BuiltPlugins } from '@tapjs/test'
import { postgresqlTarget } from '../../src/postgresql-url.js'
import type { Teardown } from './app.js'

// The engines the database tests run on: SQLite always, PostgreSQL when a server answers at
// TEST_DATABASE_URL (default: the local server's `test` database). Each test gets a database of its own:
// a temp SQLite file, or a fresh PostgreSQL schema dropped at teardown.

export interface Engine {
  name: 'sqlite' | 'postgresql'
  /** A DATABASE_URL for one test, removed after it. */
  databaseUrl: (t: Teardown) => string
}

export const sqlite: Engine = {
  name: 'sqlite',
  databaseUrl: t => {
    const dir = mkdtempSync(join(tmpdir(), 'receiver-test-'))
    // Retried: a file SQLite's threads let go of as the app closes can still be in the directory the first time.
    t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }))
    return `file:${join(dir, 'receiver.db')}`
  }
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

export const postgresql: Engine = {
  name: 'postgresql',
  databaseUrl: t => {
    const schema = `test_${randomBytes(6).toString('hex')}`
    t.teardown(async () => {
      const client = new pg.Client({ connectionString: postgresqlTarget(TEST_DATABASE_URL).connectionString })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await client.end()
    })
    const url = new URL(TEST_DATABASE_URL)
    url.searchParams.set('schema', schema)
    // pg sends it to the server: a test finds its own connections in pg_stat_activity.
    url.searchParams.set('application_name', schema)
    return url.toString()
  }
}

let reachable: Promise<string | undefined> | undefined

/** undefined when PostgreSQL answers at TEST_DATABASE_URL, else why not. */
async function postgresqlProblem (): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresqlTarget(TEST_DATABASE_URL).connectionString, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    return (err as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The engines to run database tests on, to use as `for (const engine of await engines()) t.test(...)`.
 * Without a PostgreSQL server, its cases are skipped with a visible skip line in the test file's output.
 */
export async function engines (): Promise<Engine[]> {
  reachable ??= postgresqlProblem()
  const problem = await reachable
  if (problem === undefined) return [sqlite, postgresql]
  tap.skip(`PostgreSQL cases: no server answers at ${new URL(TEST_DATABASE_URL).host} (${problem}); set TEST_DATABASE_URL`, () => {})
  return [sqlite]
}

/**
 * The engines a stress file runs on: those of engines(), or only the one STRESS_ENGINE names (`sqlite` or
 * `postgresql`), each with a DATABASE_URL of its own for the test (a SQLite file in a temp dir, or a schema).
 */
export async function stressEngines (): Promise<Engine[]> {
  const only = process.env.STRESS_ENGINE
  return (await engines()).filter(e => only === undefined || e.name === only)
}

/** A pg connection on a test's database (its schema first on the search_path), closed after the test. */
export async function pgClient (t: Teardown, databaseUrl: string): Promise<pg.Client> {
  const { connectionString, schema } = postgresqlTarget(databaseUrl)
  const url = new URL(connectionString)
  url.searchParams.delete('application_name') // not one of the app's connections
  const client = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => { await client.end() })
  return client
}

type TapTest = Test<BuiltPlugins, TestOpts> & BuiltPlugins

/**
 * One test per engine, named `<name> [<engine>]`: `engineTest(t, 'name', async (t, engine) => { ...
 * buildApp(t, {}, engine) ... })`. Without a PostgreSQL server its case is a visible skip.
 */
export function engineTest (t: TapTest, name: string, fn: (t: TapTest, engine: Engine) => Promise<void>, only: Engine[] = [sqlite, postgresql]): void {
  for (const engine of only) {
    t.test(`${name} [${engine.name}]`, async t => {
      if (engine === postgresql) {
        reachable ??= postgresqlProblem()
        const problem = await reachable
        if (problem !== undefined) {
          t.plan(0, `no PostgreSQL server answers at ${new URL(TEST_DATABASE_URL).host} (${problem}); set TEST_DATABASE_URL`)
          return
        }
      }
      await fn(t, engine)
    })
  }
}
