import type { FastifyInstance } from 'fastify'
import type { Repository } from '../../src/db/repository.js'
import { getJson } from './app.js'

// A consumer of the change feed, as an application would write one: fold the entries into a copy of the
// state, and render that copy as the read API shows it, to compare the two.

export interface Entry {
  cursor: number
  entity: string
  key: Record<string, string | number>
  op: 'upsert' | 'delete'
  fields: Record<string, any> | null
  cause: Record<string, any>
}

interface Held { entity: string, key: Record<string, string | number>, fields: Record<string, any> }

const idOf = (e: { entity: string, key: Record<string, string | number> }): string => JSON.stringify([e.entity, e.key])

/** The entries after `after` read straight from the repository (as GET /changes would page them), parsed. */
export async function feedEntries (repository: Repository, after: number, limit: number): Promise<Entry[]> {
  return (await repository.feedEntryTexts(after, limit)).map(e => JSON.parse(e.json) as Entry)
}

export class Fold {
  readonly state = new Map<string, Held>()
  after = 0

  /**
   * Applies entries in order. Returns the entries that changed nothing in the copy (none expected): an
   * upsert that repeats what is held, a delete of what is not held.
   */
  apply (entries: Entry[]): Entry[] {
    const idle: Entry[] = []
    for (const entry of entries) {
      if (entry.cursor <= this.after) throw new Error(`cursor ${entry.cursor} after ${this.after}: out of order or repeated`)
      this.after = entry.cursor
      const id = idOf(entry)
      const held = this.state.get(id)
      if (entry.op === 'delete') {
        if (held === undefined) idle.push(entry)
        this.state.delete(id)
        continue
      }
      const next: Held = held === undefined ? { entity: entry.entity, key: entry.key, fields: {} } : { ...held, fields: { ...held.fields } }
      for (const [field, value] of Object.entries(entry.fields ?? {})) {
        if (field === 'attributes') {
          const attributes = { ...(next.fields.attributes ?? {}) }
          for (const [k, v] of Object.entries(value.set as Record<string, unknown>)) attributes[k] = v
          for (const k of value.removed as string[]) delete attributes[k]
          next.fields.attributes = attributes
        } else next.fields[field] = value
      }
      if (held !== undefined && JSON.stringify(sorted(held.fields)) === JSON.stringify(sorted(next.fields))) idle.push(entry)
      this.state.set(id, next)
    }
    return idle
  }

  /** Follows the feed of `app` to its end, page by page. */
  async follow (app: FastifyInstance, limit = 100): Promise<Entry[]> {
    const idle: Entry[] = []
    for (;;) {
      const res = await getJson(app, `/changes?after=${this.after}&limit=${limit}`)
      if (res.statusCode !== 200) throw new Error(`GET /changes: ${res.statusCode} ${res.body}`)
      const page = res.json() as { entries: Entry[], next_after: number }
      idle.push(...this.apply(page.entries))
      if (page.entries.length === 0) return idle
    }
  }

  of (entity: string): Held[] {
    return [...this.state.values()].filter(h => h.entity === entity)
  }

  /** The copy as GET /tenants and GET /users list it (without updated_at), in id order. */
  render (): { tenants: unknown[], users: unknown[] } {
    const memberships = this.of('membership')
    const assignments = this.of('role_assignment')
    const listings = this.of('membership_env')
    const byId = (a: Held, b: Held): number => String(a.key.id) < String(b.key.id) ? -1 : 1
    const tenants = this.of('tenant').sort(byId).map(t => ({
      id: t.key.id,
      ...t.fields,
      attributes: sorted(t.fields.attributes),
      users: memberships.filter(m => m.key.tenant_id === t.key.id).map(m => m.key.user_id).sort()
    }))
    const users = this.of('user').sort(byId).map(u => ({
      id: u.key.id,
      ...u.fields,
      attributes: sorted(u.fields.attributes),
      tenants: memberships.filter(m => m.key.user_id === u.key.id)
        .sort((a, b) => String(a.key.tenant_id) < String(b.key.tenant_id) ? -1 : 1)
        .map(m => {
          // A membership's envs: those of its role assignments, and those it lists without role.
          const envs = new Map<number, string[]>()
          for (const l of listings) {
            if (l.key.tenant_id === m.key.tenant_id && l.key.user_id === u.key.id) envs.set(l.key.env_id as number, envs.get(l.key.env_id as number) ?? [])
          }
          for (const r of assignments) {
            if (r.key.tenant_id !== m.key.tenant_id || r.key.user_id !== u.key.id) continue
            envs.set(r.key.env_id as number, [...(envs.get(r.key.env_id as number) ?? []), r.key.role_name as string])
          }
          return {
            tenant_id: m.key.tenant_id,
            attributes: sorted(m.fields.attributes),
            envs: [...envs.entries()].sort(([a], [b]) => a - b).map(([env_id, roles]) => ({ env_id, roles: roles.sort() }))
          }
        })
    }))
    return { tenants, users }
  }
}

/** An object with its keys sorted (recursively), for comparing as text. */
export function sorted (value: any): any {
  if (Array.isArray(value)) return value.map(sorted)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.keys(value).sort().map(k => [k, sorted(value[k])]))
}

/** Every tenant and user the read API lists, without updated_at, in id order. */
export async function readState (app: FastifyInstance): Promise<{ tenants: unknown[], users: unknown[] }> {
  const list = async (path: string): Promise<unknown[]> => {
    const items: unknown[] = []
    let cursor: string | null = null
    do {
      const res = await getJson(app, `${path}?limit=200${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      const page = res.json() as { items: Array<Record<string, unknown>>, next_cursor: string | null }
      items.push(...page.items.map(({ updated_at: _, ...rest }) => rest))
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  }
  return { tenants: await list('/tenants'), users: await list('/users') }
}
