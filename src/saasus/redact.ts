import type { SaasusCredentials } from './signature.js'

// SaaSus's error text is stored (reconcile_runs.error) and printed, but it comes from the other side: an
// answer may echo the request, Authorization header included. Before any of it is kept, everything that
// looks like a credential is cut out: the configured API key and secret key wherever they appear, a
// SAASUSSIGV1 header value, an Authorization or Bearer value, `Sig=`/`APIKey=` pairs, any
// api-key/secret/token-named value, and long hex runs (an HMAC-SHA256 signature is 64 hex digits).

export const REDACTED = '[redacted]'

const PATTERNS: RegExp[] = [
  // A whole signed header value, however it is quoted or continued: up to a quote, a newline or the end.
  /SAASUSSIGV1[^"'\n\r]*/gi,
  // `Authorization: ...`, `"authorization":"..."`, `authorization=...`: the value up to a quote or a newline.
  /(authorization["']?\s*[:=]\s*["']?)[^"'\n\r]*/gi,
  /(bearer\s+)[^\s"',;]+/gi,
  // Key-value pairs whose name says key, secret, token or signature.
  /((?:api[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?token|token|sig(?:nature)?|password)["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
  // A signature or key printed alone: a long run of hex digits.
  /\b[0-9a-f]{32,}\b/gi
]

/** `text` with every known secret and everything that looks like a credential replaced by [redacted]. */
export function redactCredentials (text: string, credentials: SaasusCredentials): string {
  let out = text
  // The configured secrets first, literally, wherever they appear (also inside other words).
  for (const secret of [credentials.secretKey, credentials.apiKey]) {
    if (secret.length > 0) out = out.split(secret).join(REDACTED)
  }
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (match: string, prefix: unknown) => {
      // A pattern with a group keeps its name part; without one, the second argument is the offset.
      if (typeof prefix === 'string') return `${prefix}${REDACTED}`
      return /^saasussigv1/i.test(match) ? `SAASUSSIGV1 ${REDACTED}` : REDACTED
    })
  }
  return out
}
