/**
 * The longest id (tenant, user, role name, envelope) taken at intake: the read API's limit too, so that every
 * stored row can be read back by its id.
 */
export const MAX_ID_LENGTH = 256
/**
 * The longest `detail.event_type` taken. SaaSus's are operation names (`update_saas_user_sign_in_id`, 27
 * characters); the type is stored and indexed, and PostgreSQL's B-tree refuses a key over ~2.7 kB, so a
 * longer one was refused on PostgreSQL only. Refused at intake on both engines instead, naming the field.
 */
export const MAX_EVENT_TYPE_LENGTH = 256
/**
 * The largest env id taken (2^53 - 1). SaaSus's env ids are uint64s, but the read API and the change feed
 * hand them out as JSON numbers, which JavaScript (and every parser that reads numbers as doubles) holds
 * exactly only up to this: a larger id is refused with a message naming its field, never rounded
 * (docs/ordering.md, "Env ids"). The columns are BIGINT.
 */
export const MAX_ENV_ID = Number.MAX_SAFE_INTEGER
