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

/**
 * The JSON body parser of the authenticated routes (registered in their scope). Bytes that are not UTF-8
 * are refused, not replaced with U+FFFD; JSON.parse makes a `__proto__` key an own property (plain data,
 * never a prototype), so that each event of a batch is judged on its own by events/json-value.ts.
 */
export default fp(async (fastify) => {
  fastify.addHook('preParsing', async (request, _reply, payload) => {
    const problem = encodingProblem(request)
    if (problem !== undefined) throw problem
    return payload
  })
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer
    if (bytes.length === 0) { done(new BodyError(400, 'EMPTY_BODY', 'Body is empty: expected a JSON event or array of events'), undefined); return }
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      done(new BodyError(400, 'INVALID_UTF8', 'Body is not valid UTF-8'), undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(new BodyError(400, 'INVALID_JSON', `Body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })
}, { name: 'json-body' })
