// The secrets SaaSus puts in an event, by where they are, not by what a name or a value looks like: the
// SaaS's own `api_key` in `detail.event`, and the members of a call's request and response bodies that
// SaaSus's Auth API defines as secrets (passwords, tokens, sessions, the sign-in protocol's parameters;
// /work/ref/authapi.yml). Those are replaced by REDACTED before an event is stored; nothing else is
// touched, so a tenant called "Secret Garden K.K." or an attribute named `client_secret` (data the SaaS
// chose) is kept as sent. (The request's API-key header is never stored at all.)

import { applyEdits, members, skipSpace, type Edit } from './json-text.js'
import { scanJson } from './json-scan.js'
import { MAX_EVENT_VALUES } from './json-value.js'

export const REDACTED = '[REDACTED]'

/** Paths, from a request or response body's top level, of the members SaaSus's Auth API defines as secrets. */
export const SECRET_BODY_FIELDS: ReadonlyArray<readonly string[]> = [
  // Passwords: user creation (request, and a generated one in the response), password change and reset,
  // invitation acceptance.
  ['password'],
  // Tokens: e-mail change, invitations, MFA, external users, AWS Marketplace, credentials.
  ['access_token'], ['id_token'], ['refresh_token'], ['registration_token'], ['credentials'], ['code'],
  // MFA and the sign-in protocol (SRP): secret codes, sessions and the exchanged parameters.
  ['secret_code'], ['session'], ['sign_in_parameters'], ['challenge_parameters'], ['challenge_responses'],
  ['device_secret_verifier_config'],
  // Settings: an identity provider's client secret, reCAPTCHA's secret key.
  ['identity_provider_props', 'application_secret'], ['recaptcha_props', 'secret_key']
]

const BODIES = ['request_body', 'response_body'] as const

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)
const hidden = (value: unknown): unknown => value === null || value === '' ? value : REDACTED

/** `body` (a decoded request or response body) with its secret members' values passed through `hide`. */
function bodyWithoutSecrets (body: unknown, hide: (value: unknown) => unknown): unknown {
  if (!isObject(body)) return body
  const replace = (node: Json, path: readonly string[]): Json => {
    const [name, ...rest] = path
    if (!Object.hasOwn(node, name)) return node
    const inner = node[name]
    if (rest.length === 0) return { ...node, [name]: hide(inner) }
    return isObject(inner) ? { ...node, [name]: replace(inner, rest) } : node
  }
  return SECRET_BODY_FIELDS.reduce(replace, body)
}

type DecodedEvent = Json & { detail: Json & { event: Json } }

function replaceSecrets (event: DecodedEvent, hide: (value: unknown) => unknown): Json {
  const call: Json = { ...event.detail.event }
  if (Object.hasOwn(call, 'api_key')) call.api_key = hide(call.api_key)
  for (const key of BODIES) if (Object.hasOwn(call, key)) call[key] = bodyWithoutSecrets(call[key], hide)
  return { ...event, detail: { ...event.detail, event: call } }
}

/**
 * A decoded event (its `detail.event` and bodies already parsed) with SaaSus's secret fields replaced by
 * REDACTED: what the inbox stores. Only the objects on the way to a secret are copied.
 */
export const withoutSecrets = (event: DecodedEvent): Json => replaceSecrets(event, hidden)

/**
 * Whether a stored event (as the inbox keeps it) holds REDACTED anywhere but in SaaSus's secret fields:
 * versions before issue 25 replaced every value whose name looked like a secret (an attribute named
 * `client_secret` too), and such an event cannot be applied again as it was sent.
 */
export function redactedBeyondSecretFields (stored: unknown): boolean {
  const event = stored as DecodedEvent
  const rest: unknown = isObject(event) && isObject(event.detail) && isObject(event.detail.event) ? replaceSecrets(event, () => null) : stored
  const stack: unknown[] = [rest]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === REDACTED) return true
    if (value !== null && typeof value === 'object') stack.push(...Object.values(value))
  }
  return false
}

export type TextWithoutSecrets = { ok: true, text: string } | { ok: false, field: string, reason: string }

class Unlocatable extends Error {
  constructor (readonly field: string, reason: string) {
    super(reason)
  }
}

/** The edit replacing the value in [start, end) by REDACTED, unless it is null or "". */
function hide (text: string, start: number, end: number): Edit[] {
  const value = text.slice(start, end)
  return value === 'null' || value === '""' ? [] : [{ start, end, text: JSON.stringify(REDACTED) }]
}

/** Edits of the object at `start` reached by `path` (every member of that name: JSON.parse keeps the last). */
function pathEdits (text: string, start: number, path: readonly string[]): Edit[] {
  const [name, ...rest] = path
  return members(text, start).filter(m => m.key === name).flatMap(m =>
    rest.length === 0 ? hide(text, m.start, m.end) : text[m.start] === '{' ? pathEdits(text, m.start, rest) : [])
}

/**
 * A JSON value that SaaSus may send as a JSON string or as itself (`detail.event`, the bodies): `edits`
 * applied where it lies in the text. Within a string, the string's own text is edited and the string
 * written again (only if anything changed: escapes are then written as JSON.stringify writes them, which
 * JSON.parse reads back to the same characters). A string that cannot be searched field by field (not
 * JSON, more values than an event may hold, or JSON encoded twice) makes the whole copy unlocatable.
 */
function nestedEdits (text: string, start: number, end: number, field: string, edits: (text: string, start: number) => Edit[]): Edit[] {
  if (text[start] === '{') return edits(text, start)
  if (text[start] !== '"') return []
  const inner = JSON.parse(text.slice(start, end)) as string
  const at = skipSpace(inner, 0)
  if (at === inner.length) return []
  if (scanJson(Buffer.from(inner), 0).values > MAX_EVENT_VALUES) throw new Unlocatable(field, `holds more values than MAX_EVENT_VALUES (${MAX_EVENT_VALUES}), so it was not parsed`)
  let value: unknown
  try {
    value = JSON.parse(inner)
  } catch {
    throw new Unlocatable(field, 'is not valid JSON')
  }
  if (typeof value === 'string') throw new Unlocatable(field, 'is JSON encoded twice')
  if (!isObject(value)) return []
  const changed = applyEdits(inner, edits(inner, at))
  return changed === inner ? [] : [{ start, end, text: JSON.stringify(changed) }]
}

function callEdits (text: string, start: number): Edit[] {
  return members(text, start).flatMap(m => {
    if (m.key === 'api_key') return hide(text, m.start, m.end)
    if (m.key !== 'request_body' && m.key !== 'response_body') return []
    return nestedEdits(text, m.start, m.end, `/detail/event/${m.key}`, (body, at) => SECRET_BODY_FIELDS.flatMap(path => pathEdits(body, at, path)))
  })
}

/**
 * The text of one delivered item (an EventBridge event, as received) with SaaSus's secret fields replaced
 * by REDACTED and every other character kept: what the quarantine keeps so that a replay sees what was
 * sent. `ok: false` when a JSON string that may hold a secret cannot be searched field by field (`field`
 * says which, `reason` why). The text must be well-formed JSON.
 */
export function textWithoutSecrets (text: string): TextWithoutSecrets {
  const top = skipSpace(text, 0)
  if (text[top] !== '{') return { ok: true, text }
  try {
    const edits = members(text, top).filter(m => m.key === 'detail' && text[m.start] === '{').flatMap(detail =>
      members(text, detail.start).filter(m => m.key === 'event').flatMap(event =>
        nestedEdits(text, event.start, event.end, '/detail/event', callEdits)))
    return { ok: true, text: applyEdits(text, edits) }
  } catch (err) {
    const { field, message } = err as Unlocatable
    return { ok: false, field, reason: message }
  }
}
