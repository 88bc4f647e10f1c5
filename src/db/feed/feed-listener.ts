import pg from 'pg'
import { FEED_CHANNEL } from './feed-store.js'
import { postgresqlTarget } from '../../postgresql-url.js'

// PostgreSQL tells every replica about every commit that recorded feed entries: each writing transaction
// runs pg_notify (delivered at commit) and each process keeps ONE connection listening. A lost connection
// is opened again after a pause; what was missed meanwhile is read at once (onReconnect).

export interface FeedListenerHooks {
  /** A commit gave out cursors up to `head`. */
  onHead: (head: number) => void
  /** Listening again after a lost connection: commits may have been missed. */
  onReconnect: () => void
  onError: (err: unknown) => void
}

export class FeedListener {
  #client: pg.Client | undefined
  #closed = false
  #retry: NodeJS.Timeout | undefined

  constructor (private readonly databaseUrl: string, private readonly hooks: FeedListenerHooks, private readonly retryMs = 1000) {}

  /** Resolves once listening (or once the first attempt failed: it is tried again in the background). */
  async start (reconnect = false): Promise<void> {
    const { connectionString, schema } = postgresqlTarget(this.databaseUrl)
    const client = new pg.Client({ connectionString })
    this.#client = client
    const lost = (err?: unknown): void => {
      if (err !== undefined) this.hooks.onError(err)
      if (this.#client !== client || this.#closed) return
      this.#client = undefined
      client.removeAllListeners()
      client.on('error', () => {})
      void client.end().catch(() => {})
      this.#retry = setTimeout(() => { void this.start(true) }, this.retryMs)
    }
    client.on('error', lost)
    client.on('end', () => { lost() })
    client.on('notification', message => {
      const head = Number(message.payload)
      if (Number.isSafeInteger(head)) this.hooks.onHead(head)
    })
    try {
      await client.connect()
      await client.query(`LISTEN "${FEED_CHANNEL}${schema}"`)
      if (reconnect) this.hooks.onReconnect()
    } catch (err) {
      lost(err)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }
}
