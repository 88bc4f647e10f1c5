import { join, raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import { ENTITIES, type Entity, type EntityDef } from '../../events/entities.js'
import { NO_VERSION } from '../../events/version.js'
import { REMOVED } from '../../events/changes.js'
import type { CollapsedAttribute, CollapsedRow } from './collapse.js'
import { identifier, postgresqlDialect, sqliteDialect, type ColumnType, type Dialect } from '../engines/dialect.js'
import { rowJson, type TableName } from '../feed/feed-store.js'

/** The change feed's name for each entity's table (feed-store.ts TABLES). */
const FEED_TABLE: Record<Entity, TableName> = {
  tenant: 'tenant', user: 'user', tenant_user: 'membership', tenant_user_role: 'assignment', tenant_user_env: 'listing', role: 'role', env: 'env'
}

interface Shape {
  /** `live` and every field, in column order. */
  registers: string[]
  types: ColumnType[]
  /** The statement's text around the rows; the same for every batch. */
  head: Sql
  tail: Sql
}

// Statement shapes depend only on the entity and the engine: built once.
const shapes = new Map<string, Shape>()

function shapeOf (entity: Entity, dialect: Dialect): Shape {
  const cached = shapes.get(`${dialect.name}:${entity}`)
  if (cached !== undefined) return cached
  const def: EntityDef = ENTITIES[entity]
  const t = identifier(def.table)
  const registers = ['live', ...def.fields.map(f => f.name)]
  const fieldType = (name: string): ColumnType =>
    name === 'live' ? 'boolean' : def.fields.some(f => f.name === name && 'json' in f && f.json) ? 'json' : 'text'
  const columns = [...def.keys, ...registers.flatMap(r => [r, `${r}_v`]), ...(def.cascades ? ['deleted_v'] : [])]
  const types: ColumnType[] = [
    ...def.keys.map((k): ColumnType => def.integerKeys?.includes(k) === true ? 'bigint' : 'text'),
    ...registers.flatMap((r): ColumnType[] => [fieldType(r), 'text']),
    ...(def.cascades ? ['text' as const] : [])
  ]

  const stored = (column: string): Sql => sql`${t}.${identifier(column)}`
  const incoming = (column: string): Sql => sql`excluded.${identifier(column)}`
  const newer = (column: string): Sql => sql`${incoming(column)} > ${stored(column)}`
  const greatest = (column: string): Sql => sql`${identifier(column)} = ${dialect.greatest(stored(column), incoming(column))}`
  const versions = [...registers.map(r => `${r}_v`), ...(def.cascades ? ['deleted_v'] : [])]
  const assignments = [
    ...registers.map(r => sql`${identifier(r)} = CASE WHEN ${newer(`${r}_v`)} THEN ${incoming(r)} ELSE ${stored(r)} END`),
    ...versions.map(greatest)
  ]
  const shape: Shape = {
    registers,
    types,
    head: sql`INSERT INTO ${t} (${join(columns.map(identifier))})`,
    tail: sql`ON CONFLICT (${join(def.keys.map(identifier))}) DO UPDATE SET ${join(assignments)}
    WHERE ${join(versions.map(newer), ' OR ')}
    RETURNING ${join([...def.keys, ...versions].map(identifier))}, '${raw(FEED_TABLE[entity])}' AS "kind", ${rowJson(FEED_TABLE[entity], dialect)} AS "row"`
  }
  shapes.set(`${dialect.name}:${entity}`, shape)
  return shape
}

/**
 * One statement that writes collapsed rows of one entity: insert each row, or update each register (`live`
 * and every field) whose stored version is older than the incoming one. Registers a row does not carry are
 * sent with the empty version, which is never newer, so they are left alone. Deletes of cascading entities
 * raise `deleted_v`. Returns the key and the versions of every row it inserted or changed; a row where
 * nothing was newer is not returned; each with its whole row as the change feed reads it (`kind`, `row`). No row may appear twice (collapse first). Rows are written in the
 * order given.
 */
export function registerUpsert (entity: Entity, rows: CollapsedRow[], dialect: Dialect): Sql {
  const def = ENTITIES[entity]
  const shape = shapeOf(entity, dialect)
  const values = rows.map(row => {
    const cells: unknown[] = def.keys.map(k => row.key[k])
    for (const register of shape.registers) {
      const winner = row.registers.get(register)
      cells.push(winner?.value ?? null, winner?.version ?? NO_VERSION)
    }
    if (def.cascades) cells.push(row.deleted?.version ?? NO_VERSION)
    return cells
  })
  return sql`${shape.head} ${dialect.rows(shape.types, values)} ${shape.tail}`
}

// The value travels as its JSON text (`json_text`): a JSON null is stored as JSON, and only a removed key has none.
const ATTRIBUTE_TYPES: ColumnType[] = ['text', 'text', 'text', 'text', 'json_text', 'boolean', 'text']
const attributesTail = (dialect: Dialect): Sql => sql`ON CONFLICT ("scope", "tenant_id", "user_id", "key") DO UPDATE SET "value" = excluded."value", "removed" = excluded."removed", "v" = excluded."v"
    WHERE excluded."v" > "attribute_values"."v"
    RETURNING "scope", "tenant_id", "user_id", "key", "v", 'attribute' AS "kind", ${rowJson('attribute', dialect)} AS "row"`
const ATTRIBUTES_TAIL = { sqlite: attributesTail(sqliteDialect), postgresql: attributesTail(postgresqlDialect) }

/**
 * One statement for collapsed attribute keys: each key is written only where the incoming version is newer
 * than the one it holds. Returns the keys it wrote, with their versions.
 */
export function attributesUpsert (attributes: CollapsedAttribute[], dialect: Dialect): Sql {
  const rows = attributes.map(a => {
    const removed = a.winner.value === REMOVED
    return [a.scope, a.tenantId, a.userId, a.key, removed ? null : JSON.stringify(a.winner.value), removed, a.winner.version]
  })
  return sql`INSERT INTO "attribute_values" ("scope", "tenant_id", "user_id", "key", "value", "removed", "v")
    ${dialect.rows(ATTRIBUTE_TYPES, rows)} ${ATTRIBUTES_TAIL[dialect.name]}`
}
