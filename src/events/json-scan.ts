// What a JSON text holds, read from its bytes without parsing it: how many values (so that an event too
// large to be worth building is refused before JSON.parse builds it) and, for an array, where its items
// lie (so that a batch is parsed one item at a time). One pass, no allocation per value.

/** One item of a top-level array: its bytes are `[start, end)`; `values` counts what it holds. */
export interface ItemSpan {
  start: number
  end: number
  values: number
}

export interface JsonScan {
  /** Object members and array elements at any depth (the top-level value itself not counted). */
  values: number
  /** The items when the text is a JSON array of at most `maxItems` items; undefined otherwise. */
  items: ItemSpan[] | undefined
  /** How many items the top-level array has (0 when the text is not an array). */
  itemCount: number
  /** False when brackets do not balance or text follows the top-level array: not JSON whatever its items. */
  wellFormed: boolean
}

const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, COMMA, QUOTE, BACKSLASH] = [0x5b, 0x5d, 0x7b, 0x7d, 0x2c, 0x22, 0x5c]
const isSpace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/**
 * Scans a JSON text (UTF-8 bytes: every byte that matters here is ASCII, and no byte of a multi-byte
 * character is). A container holds one value more than its commas when anything stands between its
 * brackets. Item spans are kept only up to `maxItems`, so a million-item array costs a count, not a
 * million objects. A text that is not well-formed JSON may be counted wrongly: JSON.parse refuses it next.
 */
export function scanJson (bytes: Uint8Array, maxItems = Infinity): JsonScan {
  // A UTF-8 byte order mark, which the decoder drops, must not hide an array from the count.
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  while (start < bytes.length && isSpace(bytes[start])) start++
  const isArray = bytes[start] === OPEN_ARRAY
  const items: ItemSpan[] = []
  let itemCount = 0
  let itemStart = start + 1
  let itemValues = 0
  let values = 0
  let depth = 0
  let inString = false
  // Whether the container opened last has shown nothing yet (only that one can still be empty).
  let justOpened = false
  let closedAt = -1
  let balanced = true
  // Whether anything but white space stood in the current item (`[ ]` has no item, `[1,]` an empty second).
  let itemEmpty = true
  const endItem = (end: number): void => {
    itemCount++
    if (itemCount <= maxItems) items.push({ start: itemStart, end, values: itemValues })
    itemStart = end + 1
    itemValues = 0
    itemEmpty = true
  }
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
      continue
    }
    if (isSpace(byte)) continue
    if (closedAt >= 0) { balanced = false; break }
    if (justOpened && byte !== CLOSE_ARRAY && byte !== CLOSE_OBJECT) {
      // The container just opened is not empty: it holds one value more than its commas.
      values++
      if (depth > 1) itemValues++
    }
    justOpened = false
    if (depth >= 1 && !(depth === 1 && byte === CLOSE_ARRAY) && !(depth === 1 && byte === COMMA)) itemEmpty = false
    if (byte === QUOTE) inString = true
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      depth++
      justOpened = true
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--
      if (depth === 0) {
        closedAt = i
        if (isArray && (!itemEmpty || itemCount > 0)) endItem(i)
      } else if (depth < 0) { balanced = false; break }
    } else if (byte === COMMA) {
      values++
      if (depth > 1) itemValues++
      else if (depth === 1 && isArray) endItem(i)
    }
  }
  const wellFormed = balanced && !inString && depth === 0
  return { values, items: isArray && itemCount <= maxItems ? items : undefined, itemCount: isArray ? itemCount : 0, wellFormed }
}
