import { raw, sqltag as sql, type Sql } from '@prisma/client/runtime/client'

// A list shows a line per row, whatever the rows hold: an event type, a name or an e-mail of megabytes
// (nothing bounds them at intake but the body limit) would make one page of 50 rows as large as 50 bodies.
// Lists read at most one character more than they show, so the database never ships the rest either; the
// item's own page shows the whole value.

/** The most characters a console list shows of one text field. */
export const LIST_TEXT_MAX = 120

/** `column` cut to one character more than `max` in SQL (both engines count characters, not bytes), as `alias`. */
export const cutColumn = (column: string, alias: string, max = LIST_TEXT_MAX): Sql =>
  sql`SUBSTR(${raw(`"${column}"`)}, 1, ${max + 1}) AS ${raw(`"${alias}"`)}`

/** `text` itself when it has at most `max` characters, else its first `max - 1` and "…". */
export function cutText<T extends string | null> (text: T, max = LIST_TEXT_MAX): T {
  if (text === null || text.length <= max) return text
  const chars = Array.from(text as string)
  return (chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`) as T
}
