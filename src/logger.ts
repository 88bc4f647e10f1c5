import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'

export type LogFormat = 'pretty' | 'json'

/**
 * Pretty lines for a person watching a terminal on a local try; JSON lines for everything else (pipes,
 * files, log collectors, containers) and always in production, where logs are read by machines.
 */
export function logFormat (nodeEnv: string, stdoutIsTTY: boolean | undefined): LogFormat {
  return stdoutIsTTY === true && nodeEnv !== 'production' ? 'pretty' : 'json'
}

/**
 * pino options. Request logs carry no headers by default; the API-key header and Authorization are
 * redacted as well, so that a debug serializer added later cannot leak them; so are SaaSus's API key and secret
 * key. Redaction happens while the record is serialized, before either format sees it. `stream` (tests) takes
 * JSON lines; otherwise the format follows `logFormat`, pino-pretty running as a pino transport (in a worker
 * thread, loaded only then).
 */
export function loggerOptions (
  config: Pick<Config, 'LOG_LEVEL' | 'API_KEY_HEADER' | 'NODE_ENV'>,
  stream?: NodeJS.WritableStream,
  stdoutIsTTY: boolean | undefined = process.stdout.isTTY
): FastifyServerOptions['logger'] {
  const options = {
    level: config.LOG_LEVEL,
    redact: {
      paths: [
        `req.headers[${JSON.stringify(config.API_KEY_HEADER.toLowerCase())}]`,
        'req.headers.authorization',
        'headers.authorization',
        // The console's session cookie and password (issue 15).
        'req.headers.cookie',
        'headers.cookie',
        // SaaSus credentials, wherever a log line might carry the configuration or a client's options.
        ...['SAASUS_SECRET_KEY', 'SAASUS_API_KEY', 'CONSOLE_PASSWORD', 'credentials.secretKey', 'credentials.apiKey'].flatMap(k => [k, `*.${k}`])
      ],
      censor: '[REDACTED]'
    }
  }
  if (stream !== undefined) return { ...options, stream }
  if (logFormat(config.NODE_ENV, stdoutIsTTY) === 'json') return options
  return {
    ...options,
    transport: {
      target: 'pino-pretty',
      options: { destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }
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
