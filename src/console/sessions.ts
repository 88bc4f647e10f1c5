import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ConsoleSessions } from '../db/console/console-sessions.js'

// Sign-in, sessions and CSRF tokens of the operator console. A session is a random token: the browser
// holds it in a signed cookie, the database only its SHA-256, so that sign-out (deleting the row) really
// ends it and a copy of the database signs no one in. A form's CSRF token is an HMAC of the session token:
// bound to one session, checked without storage, useless to anyone who cannot read the page.

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/** Equal-length digests, so that the comparison's time says nothing about the secret. */
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b))

export class ConsoleAuth {
  readonly #password: string
  readonly #csrfKey: Buffer
  /** Signs the session cookie (@fastify/cookie); a new password makes every old cookie unreadable. */
  readonly cookieSecret: string

  constructor (password: string, readonly sessions: ConsoleSessions, readonly ttlMs: number) {
    this.#password = password
    this.#csrfKey = createHmac('sha256', password).update('receiver console: csrf').digest()
    this.cookieSecret = createHmac('sha256', password).update('receiver console: cookie').digest('base64url')
  }

  passwordMatches (presented: unknown): boolean {
    return typeof presented === 'string' && sameSecret(presented, this.#password)
  }

  /** A new session: its token (for the cookie only) and when it expires. */
  async signIn (now: Date = new Date()): Promise<{ token: string, expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url')
    const expiresAt = new Date(now.getTime() + this.ttlMs)
    await this.sessions.pruneExpired(now)
    await this.sessions.create(tokenHash(token), now, expiresAt)
    return { token, expiresAt }
  }

  async isSignedIn (token: string, now: Date = new Date()): Promise<boolean> {
    return await this.sessions.valid(tokenHash(token), now)
  }

  async signOut (token: string): Promise<void> {
    await this.sessions.delete(tokenHash(token))
  }

  csrfToken (sessionToken: string): string {
    return createHmac('sha256', this.#csrfKey).update(sessionToken).digest('base64url')
  }

  csrfValid (sessionToken: string, presented: unknown): boolean {
    return typeof presented === 'string' && sameSecret(presented, this.csrfToken(sessionToken))
  }
}

/** What the database keeps of a session token. */
export const tokenHash = (token: string): string => sha256(token).toString('hex')

/** The page a state-changing form without a valid CSRF token gets (403). */
export const CSRF_REFUSED = { title: 'Refused', message: 'The form is stale or forged (its CSRF token is missing or wrong); reload the page and try again.' }
