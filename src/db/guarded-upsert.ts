import { join, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { AttributesChange, RegisterChange } from '../events/changes.js'
import { ENTITIES, type EntityDef } from '../events/entities.js'
import { NO_VERSION } from '../events/version.js'
import { identifier, type Dialect } from './dialect.js'

/**
 * One statement that writes a register change: insert the row, or update each register (`live` and every
 * field) whose stored version is older than the change's. Fields the change does not carry are sent with
 * the empty version, which is never newer, so they are left alone. A delete of an entity that cascades also
 * raises `deleted_v`. Affects 0 rows when nothing is newer.
 */
export function registerUpsert (change: RegisterChange, dialect: Dialect): Sql {
  const entity: EntityDef = ENTITIES[change.entity]
  const t = identifier(entity.table)
  const columns: Sql[] = []
  const values: Sql[] = []
  const add = (column: string, value: Sql) => { columns.push(identifier(column)); values.push(value) }

  for (const key of entity.keys) add(key, sql`${change.key[key]}`)
  add('live', sql`${change.live}`)
  add('live_v', sql`${change.version}`)
  const guarded: Array<{ register: string, version: string }> = [{ register: 'live', version: 'live_v' }]
  for (const field of entity.fields) {
    const carried = field.name in change.fields
    const value = carried ? change.fields[field.name] ?? null : null
    add(field.name, field.json === true ? dialect.json(value) : sql`${value}`)
    add(`${field.name}_v`, sql`${carried ? change.version : NO_VERSION}`)
    guarded.push({ register: field.name, version: `${field.name}_v` })
  }
  const raised: string[] = []
  if (entity.cascades) {
    add('deleted_v', sql`${change.live ? NO_VERSION : change.version}`)
    raised.push('deleted_v')
  }

  const stored = (column: string): Sql => sql`${t}.${identifier(column)}`
  const incoming = (column: string): Sql => sql`excluded.${identifier(column)}`
  const newer = (column: string): Sql => sql`${incoming(column)} > ${stored(column)}`
  const greatest = (column: string): Sql => sql`${identifier(column)} = ${dialect.greatest(stored(column), incoming(column))}`
  const assignments = [
    ...guarded.flatMap(({ register, version }) => [
      sql`${identifier(register)} = CASE WHEN ${newer(version)} THEN ${incoming(register)} ELSE ${stored(register)} END`,
      greatest(version)
    ]),
    ...raised.map(greatest)
  ]
  const anyNewer = [...guarded.map(g => newer(g.version)), ...raised.map(newer)]

  return sql`INSERT INTO ${t} (${join(columns)}) VALUES (${join(values)})
    ON CONFLICT (${join(entity.keys.map(identifier))}) DO UPDATE SET ${join(assignments)}
    WHERE ${join(anyNewer, ' OR ')}`
}

/**
 * One statement for all keys of an attributes change: each key is written only where the change is newer
 * than the version that key holds. Undefined when the change carries no key.
 */
export function attributesUpsert (change: AttributesChange, dialect: Dialect): Sql | undefined {
  const entries = Object.entries(change.values)
  if (entries.length === 0) return undefined
  const rows = entries.map(([key, value]) =>
    sql`(${change.scope}, ${change.tenantId}, ${change.userId}, ${key}, ${dialect.json(value ?? null)}, ${change.version})`)
  return sql`INSERT INTO "attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "v") VALUES ${join(rows)}
    ON CONFLICT ("scope", "tenant_id", "user_id", "key") DO UPDATE SET "value" = excluded."value", "v" = excluded."v"
    WHERE excluded."v" > "attribute_values"."v"`
}
