import t from 'tap'
import { migrateSqlite, openSqliteClient, SqliteOpenError } from '../../src/db/engines/sqlite.js'
import { tempDir } from '../helpers/app.js'

// Issue 18, finding 10: "unable to open database file" names the file.

t.test('a database file that cannot be opened is named in the error', async t => {
  const dir = tempDir(t) // a directory is not a database file
  const options = { url: `file:${dir}`, busyTimeoutMs: 100, synchronous: 'FULL' as const }
  const migrating = await migrateSqlite(options).catch((err: unknown) => err)
  t.type(migrating, SqliteOpenError)
  t.match((migrating as Error).message, `cannot open the SQLite database ${dir} (DATABASE_URL): unable to open database file`)
  const opening = await openSqliteClient(options).catch((err: unknown) => err)
  t.type(opening, SqliteOpenError)
  t.match((opening as Error).message, `cannot open the SQLite database ${dir} (DATABASE_URL)`)
})
