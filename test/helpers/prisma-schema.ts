// A small reader of schema.prisma models, enough to compare them with a migrated database.

export interface PrismaField { name: string, column: string, type: string, optional: boolean, id: boolean }
export interface PrismaModel { name: string, table: string, fields: PrismaField[] }

export function parsePrismaModels (schema: string): PrismaModel[] {
  const models: PrismaModel[] = []
  for (const match of schema.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const [, name, body] = match
    const fields: PrismaField[] = []
    let table = name
    for (const raw of body.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim()
      const mapped = /^@@map\("([^"]+)"\)/.exec(line)
      if (mapped !== null) table = mapped[1]
      const field = /^(\w+)\s+(\w+)(\??)(.*)$/.exec(line)
      if (field === null || line.startsWith('@@')) continue
      const [, fieldName, type, optional, attributes] = field
      const column = /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? fieldName
      fields.push({ name: fieldName, column, type, optional: optional === '?', id: /@id\b/.test(attributes) })
    }
    // A composite key (@@id([a, b])) makes each of its fields part of the primary key.
    const composite = /@@id\(\[([^\]]+)\]\)/.exec(body)?.[1].split(',').map(f => f.trim()) ?? []
    for (const field of fields) field.id ||= composite.includes(field.name)
    models.push({ name, table, fields })
  }
  return models
}
