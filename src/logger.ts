import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'

/**
 * pino options. Request logs carry no headers by default; the API-key header and Authorization are
 * redacted as well, so that a debug serializer added later cannot leak them.
 */
export function loggerOptions (config: Pick<Config, 'LOG_LEVEL' | 'API_KEY_HEADER'>, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    ...(stream === undefined ? {} : { stream }),
    redact: {
      paths: [
        `req.headers[${JSON.stringify(config.API_KEY_HEADER.toLowerCase())}]`,
        'req.headers.authorization',
        'headers.authorization'
      ],
      censor: '[REDACTED]'
    }
  }
}

/**
 * Fastify's own request lines, minus refused authentication: a flood of wrong keys would otherwise write
 * two lines per request (plugins/auth-failures.ts logs those once per address per window). The incoming
 * line is written by plugins/request-log.ts once authentication has passed; the completed line is written
 * here unless the answer was 401 or 429.
 */
export class ReceiverLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode === 401 || reply.statusCode === 429) return
    super.requestCompleted(error, request, reply)
  }
}
