import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { parse } from 'yaml'

// fast-check arbitraries generated from SaaSus's OpenAPI definition (test/fixtures/saasus-authapi.yml): a
// value for a schema follows its $ref and allOf, sets every required property and each optional one or
// not, takes every enum value, integers at their boundaries, strings of any Unicode (U+0000 aside: no
// database SaaSus or this copy runs on stores it), empty and short arrays, any JSON value where the
// definition allows any (free-form objects: attributes), and unknown extra properties on objects, which
// SaaSus may add at any time.

export type Schema = Record<string, any>

const DEFINITION = new URL('../fixtures/saasus-authapi.yml', import.meta.url)

let loaded: Schema | undefined
/** The parsed definition (read once). */
export function definition (): Schema {
  loaded ??= parse(readFileSync(DEFINITION, 'utf8')) as Schema
  return loaded
}

/** A component schema by name, or the schema a `$ref` points at. */
export function resolve (schema: Schema): Schema {
  let s = schema
  while (typeof s.$ref === 'string') {
    const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1]
    if (name === undefined) throw new Error(`unsupported $ref ${String(s.$ref)}`)
    s = { ...definition().components.schemas[name], ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) }
  }
  return s
}

/** An object schema with its allOf parts merged: properties, and required names of every part. */
export function merged (schema: Schema): Schema {
  const s = resolve(schema)
  if (!Array.isArray(s.allOf)) return s
  const parts = (s.allOf as Schema[]).map(merged)
  return {
    type: 'object',
    properties: Object.assign({}, s.properties, ...parts.map(p => p.properties ?? {})),
    required: [...new Set([...(s.required ?? []), ...parts.flatMap(p => p.required ?? [])])]
  }
}

/** Text without U+0000 (full Unicode otherwise: graphemes, so never an unpaired surrogate). */
export const text = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({ unit: 'grapheme', maxLength }).filter(s => !s.includes('\u0000'))

/**
 * JSON numbers: any finite double, subnormals and the largest included. Each must read back as the same
 * double on both engines (docs/ordering.md, "Attribute values"); -0 is written as 0, as JSON.stringify does.
 */
export const jsonNumber: fc.Arbitrary<number> = fc.double({ noNaN: true, noDefaultInfinity: true })

/** Any JSON value, nested a little: what a free-form property may hold, null included. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.constant(null), fc.boolean(), fc.integer(), jsonNumber, text(),
    fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text(6), tie('value'), { maxKeys: 3 }))
})).value

/** Integers at the edges SaaSus's definition allows: uint64 ids (`x-go-type: uint64`), or any integer. */
export interface IntegerRange { min: number, max: number }

/** The boundary values of a range and its neighbours, with any value between. */
export function boundaryInteger ({ min, max }: IntegerRange): fc.Arbitrary<number> {
  const edges = [min, min + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 99_999_999_999, max - 1, max].filter(n => n >= min && n <= max)
  return fc.oneof(fc.constantFrom(...edges), fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }), fc.maxSafeNat().map(n => Math.min(max, Math.max(min, n))))
}

export interface Options {
  /** The range of uint64 integers (`x-go-type: uint64`): what the copy keeps exactly by default. */
  uint64?: IntegerRange
  /** Unknown extra properties on objects (default true). */
  extras?: boolean
  /** Values for named properties wherever they appear (e.g. ids that must refer to generated rows). */
  properties?: Record<string, fc.Arbitrary<unknown>>
}

/** An arbitrary for `schema`: any value the definition allows (within `options`). */
export function arbitrary (schema: Schema, options: Options = {}): fc.Arbitrary<unknown> {
  const s = merged(schema)
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]))
  if (s.properties !== undefined || s.type === 'object') return objectOf(s, options)
  switch (s.type) {
    case 'string':
      if (s.pattern === '^[A-Z]{2}$') return fc.stringMatching(/^[A-Z]{2}$/)
      if (s.format === 'uuid' || schema.$ref === '#/components/schemas/Uuid') return fc.uuid()
      return text()
    case 'integer':
      return s['x-go-type'] === 'uint64'
        ? boundaryInteger(options.uint64 ?? { min: 0, max: Number.MAX_SAFE_INTEGER })
        : boundaryInteger({ min: s.minimum ?? Number.MIN_SAFE_INTEGER, max: s.maximum ?? Number.MAX_SAFE_INTEGER })
    case 'number': return jsonNumber
    case 'boolean': return fc.boolean()
    case 'array': return fc.array(arbitrary(s.items, options), { maxLength: 3 })
    default: return anyJson
  }
}

function objectOf (s: Schema, options: Options): fc.Arbitrary<unknown> {
  const properties = (s.properties ?? {}) as Record<string, Schema>
  const required = new Set<string>(s.required ?? [])
  const names = Object.keys(properties)
  // A free-form object (`additionalProperties: true` and no properties): attributes.
  if (names.length === 0) return fc.dictionary(text(8), anyJson, { maxKeys: 4 })
  const record: Record<string, fc.Arbitrary<unknown>> = {}
  for (const name of names) record[name] = options.properties?.[name] ?? arbitrary(properties[name], options)
  const known = fc.record(record, { requiredKeys: names.filter(n => required.has(n)) })
  if (options.extras === false) return known
  // Unknown properties SaaSus may add: never one the definition names.
  const extras = fc.dictionary(text(8).map(k => `x_${k}`), anyJson, { maxKeys: 2 })
  return fc.tuple(known, extras).map(([k, e]) => ({ ...e, ...(k as object) }))
}

/** The schema of an operation's JSON request body, or of its first 2xx answer. */
export function operationSchema (path: string, method: string, part: 'request' | 'response'): Schema | undefined {
  const operation = definition().paths[path]?.[method]
  if (operation === undefined) throw new Error(`no ${method} ${path} in the definition`)
  if (part === 'request') return operation.requestBody?.content?.['application/json']?.schema
  const status = Object.keys(operation.responses).find(code => code.startsWith('2'))!
  return operation.responses[status]?.content?.['application/json']?.schema
}
