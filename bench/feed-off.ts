import { startBuiltServer } from './built-server.js'

// The receiver with its change feed switched off (Repository's `feed: false`): event batches record no feed
// entries and take no feed lock. Only to say what the feed costs (issue 16), next to the receiver as it runs.

await startBuiltServer(server => { server.repository.limits.feed = false })
