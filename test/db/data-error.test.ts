import t from 'tap'
import Database from 'better-sqlite3'
import pg from 'pg'
import { dataErrorReason } from '../../src/db/engines/data-error.js'
import { engines, TEST_DATABASE_URL } from '../helpers/engines.js'
import { postgresqlTarget } from '../../src/postgresql-url.js'

// What the database refuses for the values themselves, told from every other failure: the engines' own
// errors, as their drivers raise them (the write path's errors wrap these: test/routes/unstorable.test.ts).

async function thrown (work: () => unknown): Promise<unknown> {
  try {
    await work()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

t.test('SQLite: a constraint or a datatype mismatch is caused by the values; a syntax error is not', async t => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY CHECK (x > 0))')
  db.exec('CREATE TABLE s (x INTEGER) STRICT')
  const check = await thrown(() => db.prepare('INSERT INTO t (x) VALUES (?)').run(-1))
  t.match(dataErrorReason(check), /^could not be stored: CHECK constraint failed: x > 0 \(SQLITE_CONSTRAINT_CHECK\); refused, not retried$/)
  const mismatch = await thrown(() => db.prepare('INSERT INTO s (x) VALUES (?)').run('not a number'))
  t.match(dataErrorReason(mismatch), /\(SQLITE_CONSTRAINT_DATATYPE\)/)
  t.equal(dataErrorReason(await thrown(() => db.prepare('SELEC 1'))), undefined)
  t.equal(dataErrorReason(new Error('no code')), undefined)
  t.equal(dataErrorReason('a string'), undefined)
})

t.test('a cause inside another error is found, once however it is referenced', async t => {
  const inner = { name: 'DriverAdapterError', cause: { kind: 'ValueOutOfRange', originalCode: '22003', originalMessage: 'value "2147483648" is out of range for type integer' } }
  const outer: Record<string, unknown> = { message: 'Raw query failed', code: 'P2010', meta: { driverAdapterError: inner } }
  outer.cause = outer
  t.equal(dataErrorReason(outer), 'could not be stored: value "2147483648" is out of range for type integer (22003); refused, not retried')
})

for (const engine of await engines()) {
  if (engine.name !== 'postgresql') continue
  t.test('PostgreSQL: data exceptions (22), constraints (23) and an index row too large (54000); not a syntax error', async t => {
    const client = new pg.Client({ connectionString: postgresqlTarget(TEST_DATABASE_URL).connectionString })
    await client.connect()
    t.teardown(async () => { await client.end() })
    t.match(dataErrorReason(await thrown(async () => await client.query('SELECT 2147483648::integer'))), /^could not be stored: integer out of range \(22003\)/)
    t.match(dataErrorReason(await thrown(async () => await client.query('SELECT \'"\\u0000"\'::jsonb'))), /\(22P05\)/)
    t.match(dataErrorReason(await thrown(async () => await client.query('SELECT (NULL::int) FROM (SELECT 1) s WHERE 1/0 = 1'))), /division by zero \(22012\)/)
    await client.query('CREATE TEMP TABLE n (x integer NOT NULL)')
    t.match(dataErrorReason(await thrown(async () => await client.query('INSERT INTO n VALUES (NULL)'))), /\(23502\)/)
    t.equal(dataErrorReason(await thrown(async () => await client.query('SELEC 1'))), undefined)
  })
}
