// A small reader of schema.prisma models, enough to compare them with a migrated database and with each other.

export interface PrismaField {
  name: string
  column: string
  type: string
  optional: boolean
  id: boolean
  /** The field's attributes without native-type ones (`@db.*`), spaces normalised. */
  attributes: string
  /** The native type, e.g. `Timestamptz(3)`, if any. */
  nativeType?: string
}
export interface PrismaModel { name: string, table: string, fields: PrismaField[], /** `@@` lines, normalised. */ blockAttributes: string[] }

export function parsePrismaModels (schema: string): PrismaModel[] {
  const models: PrismaModel[] = []
  for (const match of schema.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const [, name, body] = match
    const fields: PrismaField[] = []
    const blockAttributes: string[] = []
    let table = name
    for (const raw of body.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim()
      const mapped = /^@@map\("([^"]+)"\)/.exec(line)
      if (mapped !== null) table = mapped[1]
      if (line.startsWith('@@')) blockAttributes.push(line.replace(/\s+/g, ' '))
      const field = /^(\w+)\s+(\w+)(\??)(.*)$/.exec(line)
      if (field === null || line.startsWith('@@')) continue
      const [, fieldName, type, optional, attributes] = field
      const column = /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? fieldName
      const nativeType = /@db\.(\w+(?:\([^)]*\))?)/.exec(attributes)?.[1]
      fields.push({
        name: fieldName,
        column,
        type,
        optional: optional === '?',
        id: /@id\b/.test(attributes),
        attributes: attributes.replace(/@db\.\w+(\([^)]*\))?/g, '').trim().split(/\s+/).filter(a => a !== '').join(' '),
        ...(nativeType === undefined ? {} : { nativeType })
      })
    }
    // A composite key (@@id([a, b])) makes each of its fields part of the primary key.
    const composite = /@@id\(\[([^\]]+)\]\)/.exec(body)?.[1].split(',').map(f => f.trim()) ?? []
    for (const field of fields) field.id ||= composite.includes(field.name)
    models.push({ name, table, fields, blockAttributes })
  }
  return models
}

/** A schema's generator block, with its output directory's engine part replaced by `<engine>`. */
export function generatorBlock (schema: string): string {
  return (/^generator\s+\w+\s*\{[\s\S]*?^\}/m.exec(schema)?.[0] ?? '')
    .replace(/generated\/(sqlite|postgresql)/, 'generated/<engine>')
}
