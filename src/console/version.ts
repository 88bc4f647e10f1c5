import { readFileSync } from 'node:fs'

/** The version running, from package.json (two levels up from src/console/ and from dist/console/ alike). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
