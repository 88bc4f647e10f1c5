import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'

/**
 * pino options. Request logs carry no headers by default; the API-key header and Authorization are
 * redacted as well, so that a debug serializer added later cannot leak them; so are SaaSus's API key and secret key.
 */
export function loggerOptions (config: Pick<Config, 'LOG_LEVEL' | 'API_KEY_HEADER'>, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    ...(stream === undefined ? {} : { stream }),
    redact: {
      paths: [
        `req.headers[${JSON.stringify(config.API_KEY_HEADER.toLowerCase())}]`,
        'req.headers.authorization',
        'headers.authorization',
        // SaaSus credentials, wherever a log line might carry the configuration or a client's options.
        ...['SAASUS_SECRET_KEY', 'SAASUS_API_KEY', 'credentials.secretKey', 'credentials.apiKey'].flatMap(k => [k, `*.${k}`])
      ],
      censor: '[REDACTED]'
    }
  }
}
