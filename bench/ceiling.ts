import { startBuiltServer } from './built-server.js'

// The receiver with its database write taken out: what the HTTP layer, authentication, validation, decoding,
// redaction, planning, metrics and the other hooks cost on their own. Every event is answered `applied`
// without being written, so this is a ceiling for the receiver's throughput, not a way to run it.
// A SQLite database is still opened and migrated, as at every start.

await startBuiltServer(server => { server.repository.record = async () => 'applied' })
