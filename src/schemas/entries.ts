/**
 * The most attributes one object, and role names one call, may carry in an event: each is a row written
 * in the event's transaction, and SaaSus attributes are the few the SaaS defines. More is refused (400),
 * so that one event's write stays short (docs/intake-limits.md).
 */
export const MAX_ATTRIBUTES = 1000
export const MAX_ROLE_NAMES = 1000
