// Secrets that travel inside SaaSus events: the SaaS's own `api_key`, passwords (user creation, password
// change, invitations) and tokens. They are replaced before an event is stored or logged.

export const REDACTED = '[REDACTED]'

const SECRET_KEY = /(^|_)(api_?key|password|access_token|refresh_token|id_token|secret|client_secret)$/i

export function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(key)
}

/** A deep copy of a JSON value with every secret-named property's value replaced by REDACTED. */
export function redactSecrets (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (value === null || typeof value !== 'object') return value
  const copy: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = isSecretKey(key) && inner !== null && inner !== '' ? REDACTED : redactSecrets(inner)
  }
  return copy
}
