// Follows the receiver's change feed: prints each change and keeps the cursor in a file, so that a restart
// carries on where it stopped (every change once, in order). Stop it at any time: the cursor file always
// holds the last page handled. On 410 (the entries after the cursor were
// pruned) it says so and stops: read the state from GET /tenants and GET /users, then start again from
// the `oldest_cursor` it printed.
//
//   RECEIVER_URL=http://127.0.0.1:3000 API_KEY=... CURSOR_FILE=./changes.cursor npx tsx examples/follow-changes.ts

import { readFileSync, renameSync, writeFileSync } from 'node:fs'

const setting = (name: string, fallback: string): string => process.env[name] ?? fallback
const base = setting('RECEIVER_URL', 'http://127.0.0.1:3000')
const apiKey = setting('API_KEY', '')
const cursorFile = setting('CURSOR_FILE', './changes.cursor')
const retryMs = Number(setting('RETRY_MS', '5000'))
const pause = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, retryMs)) }

function readCursor (): number {
  try {
    return Number(readFileSync(cursorFile, 'utf8').trim())
  } catch {
    return 0 // no file yet: from the beginning
  }
}

/** Written to a temporary file and renamed: a crash leaves the old cursor or the new one, never half. */
function saveCursor (cursor: number): void {
  writeFileSync(`${cursorFile}.tmp`, `${cursor}\n`)
  renameSync(`${cursorFile}.tmp`, cursorFile)
}

let after = readCursor()
for (;;) {
  let res: Response
  try {
    res = await fetch(`${base}/changes?after=${after}&limit=100&wait=25`, { headers: { 'x-api-key': apiKey }, signal: AbortSignal.timeout(35_000) })
  } catch (err) {
    console.error(`receiver unreachable (${(err as Error).message}); trying again in ${retryMs} ms`)
    await pause()
    continue
  }
  if (res.status === 410) {
    const gone = await res.json() as { oldest_cursor: number, message: string }
    console.error(`${gone.message}\nresynchronise from the read API, then run again with ${cursorFile} set to ${gone.oldest_cursor}`)
    process.exit(2)
  }
  if (res.status !== 200) {
    console.error(`GET /changes answered ${res.status}: ${await res.text()}; trying again in ${retryMs} ms`)
    await pause()
    continue
  }
  const page = await res.json() as { entries: Array<{ cursor: number, entity: string, key: object, op: string, fields: object | null, cause: object }>, next_after: number }
  for (const entry of page.entries) {
    // Handle the change here (provision, revoke, bill...); printing stands for it.
    console.log(`${entry.cursor} ${entry.op} ${entry.entity} ${JSON.stringify(entry.key)} ${JSON.stringify(entry.fields)} ${JSON.stringify(entry.cause)}`)
  }
  // Only after the page is handled: a crash before this line handles the page again, never skips it.
  saveCursor(page.next_after)
  after = page.next_after
}
