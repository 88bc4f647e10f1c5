import type { TSchema, Static } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'

/** Why an event was refused: `field` is a JSON pointer into the request body. */
export interface ValidationProblem {
  field: string
  message: string
}

export type Checked<T> = { ok: true, value: T } | { ok: false, problem: ValidationProblem }

/** A TypeBox schema compiled once, checking values found at `field` in the request body. */
export class Checker<S extends TSchema> {
  readonly #check: TypeCheck<S>

  constructor (schema: S) {
    this.#check = TypeCompiler.Compile(schema)
  }

  check (value: unknown, field: string): Checked<Static<S>> {
    if (this.#check.Check(value)) return { ok: true, value }
    // The first error is the most useful one: TypeBox reports the outermost failure first.
    const error = this.#check.Errors(value).First()!
    return { ok: false, problem: { field: field + error.path, message: error.message } }
  }
}
