import type { Repository } from '../repository.js'

// The operator console's sessions, server-side so that signing out really ends one. A row is keyed by the
// SHA-256 of the session token (the caller hashes): the token itself lives only in the browser's cookie.

export class ConsoleSessions {
  constructor (readonly repository: Repository) {}

  get #prisma () { return this.repository.prisma }

  async create (tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void> {
    await this.#prisma.consoleSession.create({ data: { id: tokenHash, createdAt, expiresAt } })
  }

  /** Whether a session with this token hash exists and has not expired at `now`. */
  async valid (tokenHash: string, now: Date): Promise<boolean> {
    const row = await this.#prisma.consoleSession.findUnique({ where: { id: tokenHash } })
    return row !== null && row.expiresAt > now
  }

  async delete (tokenHash: string): Promise<void> {
    await this.#prisma.consoleSession.deleteMany({ where: { id: tokenHash } })
  }

  /** Deletes the sessions expired at `now` (at sign-in: the table never grows beyond the live ones). */
  async pruneExpired (now: Date): Promise<number> {
    const { count } = await this.#prisma.consoleSession.deleteMany({ where: { expiresAt: { lte: now } } })
    return count
  }
}
