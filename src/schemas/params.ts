import { Type, type IntegerOptions, type StringOptions } from '@sinclair/typebox'
import type { Plugin } from 'ajv'

// Query string and path parameters, validated at the edge (issue 25): every parameter route reads is built
// from these, so that an out-of-range number, a non-finite one or a U+0000 is a 400 naming the parameter,
// never a database error.

/**
 * Ajv coerces a query string's `1e309` or `Infinity` to the number Infinity, and then skips `minimum` and
 * `maximum` (they apply to finite numbers only): this keyword refuses what is not finite.
 */
export const FINITE = 'x-finite'
/** PostgreSQL refuses U+0000 in text: this keyword refuses a parameter holding one. */
export const NO_NUL = 'x-no-nul'

/** The largest value of a 32-bit integer column (PostgreSQL `integer`, `serial`). */
export const MAX_INT32 = 2 ** 31 - 1

/** A whole-number parameter, finite and within `minimum`..`maximum` (both required: no column is unbounded). */
export const ParamInteger = (options: IntegerOptions & { minimum: number, maximum: number }) => Type.Integer({ ...options, [FINITE]: true })

/** A text parameter: bounded in length, without U+0000. */
export const ParamText = (options: StringOptions & { maxLength: number }) => Type.String({ ...options, [NO_NUL]: true })

/** The keywords above, for Fastify's Ajv (serverOptions' `ajv.plugins`). */
export const paramKeywords: Plugin<unknown> = ajv => ajv
  .addKeyword({
    keyword: FINITE,
    // Not `type: 'number'`: Ajv applies keywords of that type to finite numbers only.
    schemaType: 'boolean',
    error: { message: 'must be a finite number' },
    validate: (_on: boolean, value: number) => Number.isFinite(value)
  })
  .addKeyword({
    keyword: NO_NUL,
    type: 'string',
    schemaType: 'boolean',
    error: { message: 'must not contain U+0000' },
    validate: (_on: boolean, value: string) => !value.includes('\u0000')
  })
