import type { FastifyInstance } from 'fastify'
import { getJson } from './app.js'

// The projected state through the read API, for comparing a copy with SaaSus's state.

/** Every visible tenant and user, as the read API shows them, without updated_at. */
export async function reads (app: FastifyInstance): Promise<{ tenants: unknown[], users: unknown[] }> {
  const all = async (path: string) => {
    const items: Array<Record<string, unknown>> = []
    let cursor: string | null = null
    do {
      const page: { items: Array<Record<string, unknown>>, next_cursor: string | null } =
        (await getJson(app, `${path}?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)).json()
      items.push(...page.items.map(({ updated_at: _, ...rest }) => rest))
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  }
  return { tenants: await all('/tenants'), users: await all('/users') }
}

/** The live role and env definitions (the read API does not serve them yet). */
export const definitions = async (app: FastifyInstance) => ({
  roles: (await app.repository.prisma.role.findMany({ where: { live: true }, orderBy: { roleName: 'asc' } })).map(r => [r.roleName, r.displayName]),
  envs: (await app.repository.prisma.env.findMany({ where: { live: true }, orderBy: { id: 'asc' } })).map(e => [e.id, e.name, e.displayName])
})

