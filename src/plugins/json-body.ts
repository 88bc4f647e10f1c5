import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { isUtf8 } from 'node:buffer'
import { scanJson } from '../events/json-scan.js'
import { MAX_EVENT_VALUES } from '../events/json-value.js'
import { OversizedEvent } from '../events/oversized.js'
import { rememberText } from '../events/received-text.js'
import { WorkSlice, nextTurn } from '../work-slice.js'

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

const invalidJson = (reason: string): BodyError => new BodyError(400, 'INVALID_JSON', `Body is not valid JSON: ${reason}`)

/**
 * A JSON text to its value; `where` names an item of a batch in the message. The text is remembered with
 * the value (events/received-text.ts): a refused item is quarantined as it was sent.
 */
function parse (bytes: Uint8Array, where = ''): unknown {
  const text = utf8.decode(bytes)
  try {
    return rememberText(JSON.parse(text), text)
  } catch (err) {
    throw invalidJson(`${where}${(err as Error).message}`)
  }
}

/** One event's text holding `values` values: parsed, or an OversizedEvent when it holds more than MAX_EVENT_VALUES. */
const oneItem = (text: Uint8Array, values: number, where?: string): unknown =>
  values > MAX_EVENT_VALUES ? new OversizedEvent(text, values) : parse(text, where)

/**
 * One item's text (a replayed quarantine item, console/replay.ts) to its value as the body parser reads an
 * event: counted first, parsed only when it holds at most MAX_EVENT_VALUES values. Throws a BodyError
 * (400) when it is not JSON.
 */
export const parseItemText = (text: Uint8Array): unknown => oneItem(text, scanJson(text, 0).values)

/**
 * A request body to its value: one event, or the array of a batch. What it holds is counted from its
 * bytes first (events/json-scan.ts): a batch longer than `maxItems` is refused with 413, and an event
 * holding more than MAX_EVENT_VALUES values is not parsed but becomes an OversizedEvent, refused and
 * quarantined as a description (alone: 400; in a batch: that item only). A batch is parsed one item at a
 * time, yielding to the event loop every few milliseconds; a malformed item refuses the whole body (400)
 * before anything is recorded, like a malformed single event.
 */
export async function parseBody (bytes: Buffer, maxItems: number): Promise<unknown> {
  if (bytes.length === 0) throw new BodyError(400, 'EMPTY_BODY', 'Body is empty: expected a JSON event or array of events')
  const scan = scanJson(bytes, maxItems)
  if (scan.itemCount > maxItems) {
    throw new BodyError(413, 'TOO_MANY_ITEMS', `a batch holds at most ${maxItems} events (BATCH_MAX_ITEMS); this one has ${scan.itemCount}: nothing was recorded`)
  }
  // Refused, not replaced with U+FFFD.
  if (!isUtf8(bytes)) throw new BodyError(400, 'INVALID_UTF8', 'Body is not valid UTF-8')
  if (scan.items === undefined) {
    const value = oneItem(bytes, scan.values)
    // Parsing is a long step, and checking the event is the next: others get a turn in between.
    await nextTurn()
    return value
  }
  if (!scan.wellFormed) throw invalidJson('the array is not closed, or text follows it')
  const slice = new WorkSlice()
  const items: unknown[] = []
  for (const [i, { start, end, values }] of scan.items.entries()) {
    await slice.turn()
    const text = bytes.subarray(start, end)
    items.push(oneItem(text, values, `item ${i}: `))
  }
  await nextTurn()
  return items
}

/**
 * The JSON body parser of the authenticated routes (registered in their scope): parseBody. JSON.parse
 * makes a `__proto__` key an own property (plain data, never a prototype), so that each event of a batch
 * is judged on its own by events/json-value.ts.
 */
export default fp(async (fastify) => {
  const maxItems = fastify.config.BATCH_MAX_ITEMS
  fastify.addHook('preParsing', async (request, _reply, payload) => {
    const problem = encodingProblem(request)
    if (problem !== undefined) throw problem
    return payload
  })
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, async (_request: FastifyRequest, body: Buffer) => await parseBody(body, maxItems))
}, { name: 'json-body', dependencies: ['config'] })
