/**
 * The longest id (tenant, user, role name, envelope) taken at intake: the read API's limit too, so that every
 * stored row can be read back by its id.
 */
export const MAX_ID_LENGTH = 256
