import { join, sqltag as sql, type Sql } from '@prisma/client/runtime/client'
import type { Change } from '../events/changes.js'
import { NO_VERSION } from '../events/version.js'
import { identifier, type Dialect } from './dialect.js'

/** A projected table: each field column has a `<column>_v` version column beside it. */
interface ProjectedTable {
  table: string
  fields: ReadonlyArray<{ name: string, json?: boolean }>
}

const TABLES: Record<Change['entity'], ProjectedTable> = {
  tenant: { table: 'tenants', fields: [{ name: 'name' }, { name: 'attributes', json: true }, { name: 'back_office_staff_email' }] },
  user: { table: 'users', fields: [{ name: 'email' }, { name: 'sign_in_id' }, { name: 'attributes', json: true }] }
}

/**
 * One statement that writes a change: insert the row, or update each register (`live` and every field)
 * whose stored version is older than the change's. Fields the change does not carry are sent with the
 * empty version, which is never newer, so they are left alone. Affects 0 rows when nothing is newer.
 */
export function guardedUpsert (change: Change, dialect: Dialect): Sql {
  const { table, fields } = TABLES[change.entity]
  const t = identifier(table)
  const values = change.fields as Record<string, unknown>
  const registers = ['live', ...fields.map(f => f.name)].map(identifier)
  const versions = ['live_v', ...fields.map(f => `${f.name}_v`)].map(identifier)

  const insertColumns: Sql[] = [identifier('id')]
  const insertValues: Sql[] = [sql`${change.id}`]
  insertColumns.push(registers[0], versions[0])
  insertValues.push(sql`${change.live}`, sql`${change.version}`)
  for (const [i, field] of fields.entries()) {
    const carried = field.name in values
    const value = carried ? values[field.name] ?? null : null
    insertColumns.push(registers[i + 1], versions[i + 1])
    insertValues.push(field.json === true ? dialect.json(value) : sql`${value}`, sql`${carried ? change.version : NO_VERSION}`)
  }

  const newer = (v: Sql): Sql => sql`excluded.${v} > ${t}.${v}`
  const assignments = registers.flatMap((register, i) => {
    const v = versions[i]
    return [
      sql`${register} = CASE WHEN ${newer(v)} THEN excluded.${register} ELSE ${t}.${register} END`,
      sql`${v} = ${dialect.greatest(sql`${t}.${v}`, sql`excluded.${v}`)}`
    ]
  })

  return sql`INSERT INTO ${t} (${join(insertColumns)}) VALUES (${join(insertValues)})
    ON CONFLICT (${identifier('id')}) DO UPDATE SET ${join(assignments)}
    WHERE ${join(versions.map(newer), ' OR ')}`
}
