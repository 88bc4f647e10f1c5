import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'

/** A client error with its status, answered in the one error shape by plugins/errors.ts. */
export class BodyError extends Error {
  override name = 'BodyError'
  constructor (readonly statusCode: number, readonly code: string, message: string) {
    super(message)
  }
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** Refuses, before the body is read, what could only be decoded wrongly: another charset or a compressed body. */
export function encodingProblem (request: Pick<FastifyRequest, 'headers'>): BodyError | undefined {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase()
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return new BodyError(415, 'UNSUPPORTED_CONTENT_ENCODING', `Content-Encoding ${encoding} is not supported: send the body uncompressed (identity)`)
  }
  const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1].toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return new BodyError(415, 'UNSUPPORTED_CHARSET', `charset ${charset} is not supported: JSON bodies must be UTF-8`)
  }
  return undefined
}

const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, COMMA, QUOTE, BACKSLASH] = [0x5b, 0x5d, 0x7b, 0x7d, 0x2c, 0x22, 0x5c]
const isSpace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/**
 * How many items `bytes` holds when it is a JSON array of more than `max` items (else undefined), found by
 * counting the commas of the
 * top level without parsing: a body of a million tiny items is refused before a million values exist. A
 * body that is not well-formed JSON may be counted wrongly; JSON.parse refuses it next anyway.
 */
export function arrayLongerThan (bytes: Buffer, max: number): number | undefined {
  let start = 0
  while (start < bytes.length && isSpace(bytes[start])) start++
  if (bytes[start] !== OPEN_ARRAY) return undefined
  let depth = 0
  let inString = false
  let commas = 0
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
      continue
    }
    if (byte === QUOTE) inString = true
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) depth++
    else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) depth--
    else if (byte === COMMA && depth === 1) commas++
  }
  // No comma: one item or none, never more than max (at least 1).
  return commas > 0 && commas + 1 > max ? commas + 1 : undefined
}

/**
 * The JSON body parser of the authenticated routes (registered in their scope). A batch longer than
 * BATCH_MAX_ITEMS is refused with 413 before it is parsed. Bytes that are not UTF-8 are refused, not
 * replaced with U+FFFD; JSON.parse makes a `__proto__` key an own property (plain data, never a
 * prototype), so that each event of a batch is judged on its own by events/json-value.ts.
 */
export default fp(async (fastify) => {
  const maxItems = fastify.config.BATCH_MAX_ITEMS
  fastify.addHook('preParsing', async (request, _reply, payload) => {
    const problem = encodingProblem(request)
    if (problem !== undefined) throw problem
    return payload
  })
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer
    if (bytes.length === 0) { done(new BodyError(400, 'EMPTY_BODY', 'Body is empty: expected a JSON event or array of events'), undefined); return }
    const items = arrayLongerThan(bytes, maxItems)
    if (items !== undefined) {
      done(new BodyError(413, 'TOO_MANY_ITEMS', `a batch holds at most ${maxItems} events (BATCH_MAX_ITEMS); this one has ${items}: nothing was recorded`), undefined)
      return
    }
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      done(new BodyError(400, 'INVALID_UTF8', 'Body is not valid UTF-8'), undefined)
      return
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      done(new BodyError(400, 'INVALID_JSON', `Body is not valid JSON: ${(err as Error).message}`), undefined)
      return
    }
    // Parsing 2 MB is a long step, and checking the events is the next: others get a turn in between.
    setImmediate(() => { done(null, parsed) })
  })
}, { name: 'json-body', dependencies: ['config'] })
