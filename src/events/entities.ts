// The projected entities: their key columns and their fields. Every field is a register with a
// `<field>_v` version column beside it, and every entity has the `live` register (exists or deleted).
// Names are the SQL column names, which are also the names the read API shows.

export interface FieldDef {
  name: string
  json?: boolean
}

export interface EntityDef {
  table: string
  keys: readonly string[]
  /** Key columns that hold integers (the others hold text). */
  integerKeys?: readonly string[]
  fields: readonly FieldDef[]
  /**
   * A delete of this entity also hides what hangs below it (memberships, roles, attribute keys) when
   * that was written before the delete: it keeps the newest delete's version in `deleted_v`.
   */
  cascades: boolean
}

export const ENTITIES = {
  tenant: {
    table: 'tenants',
    keys: ['id'],
    fields: [
      { name: 'name' }, { name: 'back_office_staff_email' }, { name: 'plan_id' },
      { name: 'plan_histories', json: true }, { name: 'next_plan', json: true }, { name: 'billing_info', json: true }
    ],
    cascades: true
  },
  user: { table: 'users', keys: ['id'], fields: [{ name: 'email' }, { name: 'sign_in_id' }], cascades: true },
  tenant_user: { table: 'tenant_users', keys: ['tenant_id', 'user_id'], fields: [], cascades: true },
  tenant_user_role: { table: 'tenant_user_roles', keys: ['tenant_id', 'user_id', 'env_id', 'role_name'], integerKeys: ['env_id'], fields: [], cascades: false },
  // SaaSus lists this env for the membership with no role (`roles: []`, which its definition allows): a
  // role assignment cannot say that, having no role to name, so the listing is its own existence register.
  // A user's envs in a tenant are those with a live role or a live listing (views.ts membershipEnvs).
  tenant_user_env: { table: 'tenant_user_envs', keys: ['tenant_id', 'user_id', 'env_id'], integerKeys: ['env_id'], fields: [], cascades: false },
  role: { table: 'roles', keys: ['role_name'], fields: [{ name: 'display_name' }], cascades: false },
  env: { table: 'envs', keys: ['id'], integerKeys: ['id'], fields: [{ name: 'name' }, { name: 'display_name' }], cascades: false }
} as const satisfies Record<string, EntityDef>

export type Entity = keyof typeof ENTITIES

/** Whose attribute object a key belongs to. */
export type AttributeScope = 'tenant' | 'user' | 'tenant_user'
