import type { FastifyServerOptions } from 'fastify'
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
 * redacted as well, so that a debug serializer added later cannot leak them. Redaction happens while the
 * record is serialized, before either format sees it. `stream` (tests) takes JSON lines; otherwise the
 * format follows `logFormat`, pino-pretty running as a pino transport (in a worker thread, loaded only then).
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
        'headers.authorization'
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
