import { join, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import { ENTITIES, type Entity } from '../events/entities.js'
import { NO_VERSION } from '../events/version.js'
import type { CollapsedAttribute, CollapsedRow } from './collapse.js'
import { identifier, type Dialect } from './dialect.js'

/**
 * One statement that writes collapsed rows of one entity: insert each row, or update each register (`live`
 * and every field) whose stored version is older than the incoming one. Registers a row does not carry are
 * sent with the empty version, which is never newer, so they are left alone. Deletes of cascading entities
 * raise `deleted_v`. Returns the key and the versions of every row it inserted or changed; a row where
 * nothing was newer is not returned. No row may appear twice (collapse first).
 */
export function registerUpsert (entity: Entity, rows: CollapsedRow[], dialect: Dialect): Sql {
  const def = ENTITIES[entity]
  const t = identifier(def.table)
  const registers = ['live', ...def.fields.map(f => f.name)]
  const json = new Set<string>(def.fields.filter(f => 'json' in f && f.json).map(f => f.name))
  const columns = [...def.keys, ...registers.flatMap(r => [r, `${r}_v`]), ...(def.cascades ? ['deleted_v'] : [])]

  const values = rows.map(row => {
    const cells: Sql[] = def.keys.map(k => sql`${row.key[k]}`)
    for (const register of registers) {
      const winner = row.registers.get(register)
      const value = winner?.value ?? null
      cells.push(json.has(register) ? dialect.json(value) : sql`${value}`, sql`${winner?.version ?? NO_VERSION}`)
    }
    if (def.cascades) cells.push(sql`${row.deleted?.version ?? NO_VERSION}`)
    return sql`(${join(cells)})`
  })

  const stored = (column: string): Sql => sql`${t}.${identifier(column)}`
  const incoming = (column: string): Sql => sql`excluded.${identifier(column)}`
  const newer = (column: string): Sql => sql`${incoming(column)} > ${stored(column)}`
  const greatest = (column: string): Sql => sql`${identifier(column)} = ${dialect.greatest(stored(column), incoming(column))}`
  const versions = [...registers.map(r => `${r}_v`), ...(def.cascades ? ['deleted_v'] : [])]
  const assignments = [
    ...registers.map(r => sql`${identifier(r)} = CASE WHEN ${newer(`${r}_v`)} THEN ${incoming(r)} ELSE ${stored(r)} END`),
    ...versions.map(greatest)
  ]

  return sql`INSERT INTO ${t} (${join(columns.map(identifier))}) VALUES ${join(values)}
    ON CONFLICT (${join(def.keys.map(identifier))}) DO UPDATE SET ${join(assignments)}
    WHERE ${join(versions.map(newer), ' OR ')}
    RETURNING ${join([...def.keys, ...versions].map(identifier))}`
}

/**
 * One statement for collapsed attribute keys: each key is written only where the incoming version is newer
 * than the one it holds. Returns the keys it wrote, with their versions.
 */
export function attributesUpsert (attributes: CollapsedAttribute[], dialect: Dialect): Sql {
  const rows = attributes.map(a =>
    sql`(${a.scope}, ${a.tenantId}, ${a.userId}, ${a.key}, ${dialect.json(a.winner.value)}, ${a.winner.version})`)
  return sql`INSERT INTO "attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "v") VALUES ${join(rows)}
    ON CONFLICT ("scope", "tenant_id", "user_id", "key") DO UPDATE SET "value" = excluded."value", "v" = excluded."v"
    WHERE excluded."v" > "attribute_values"."v"
    RETURNING "scope", "tenant_id", "user_id", "key", "v"`
}
