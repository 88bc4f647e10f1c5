// Positions in a JSON text, without parsing it into values: where an object's members lie, so that one
// member's value can be replaced and every other byte of the text kept as it was (numbers such as 1e309 or
// 12345678901234567890, escapes such as \u0000 or \ud800 stay exactly as sent). Iterative: no depth limit.

const isSpace = (c: string): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t'

export function skipSpace (text: string, i: number): number {
  while (i < text.length && isSpace(text[i])) i++
  return i
}

/** Index just past the string literal that starts (with its quote) at `i`: the first quote after it not escaped. */
function stringEnd (text: string, i: number): number {
  for (let j = text.indexOf('"', i + 1); j >= 0; j = text.indexOf('"', j + 1)) {
    // Escaped when an odd number of backslashes stands before it (the opening quote ends the run).
    let slashes = 0
    while (text[j - 1 - slashes] === '\\') slashes++
    if (slashes % 2 === 0) return j + 1
  }
  /* c8 ignore next -- well-formed JSON closes every string */
  return text.length
}

/** Index just past the JSON value that starts at `i`. The text must be well-formed JSON (JSON.parse accepted it). */
export function valueEnd (text: string, i: number): number {
  const c = text[i]
  if (c === '"') return stringEnd(text, i)
  if (c === '{' || c === '[') {
    let depth = 0
    for (let j = i; j < text.length; j++) {
      const ch = text[j]
      if (ch === '"') j = stringEnd(text, j) - 1
      else if (ch === '{' || ch === '[') depth++
      else if ((ch === '}' || ch === ']') && --depth === 0) return j + 1
    }
    /* c8 ignore next -- well-formed JSON closes every container */
    return text.length
  }
  let j = i
  while (j < text.length && !isSpace(text[j]) && text[j] !== ',' && text[j] !== '}' && text[j] !== ']') j++
  return j
}

/** One member of an object: its name (escapes decoded, as JSON.parse reads it) and where its value lies. */
export interface MemberSpan {
  key: string
  start: number
  end: number
}

/** The members of the object whose `{` is at `start`, in text order (duplicates included). */
export function members (text: string, start: number): MemberSpan[] {
  const found: MemberSpan[] = []
  let i = skipSpace(text, start + 1)
  if (text[i] === '}') return found
  for (;;) {
    const keyEnd = stringEnd(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1)
    const end = valueEnd(text, valueStart)
    found.push({ key, start: valueStart, end })
    i = skipSpace(text, end)
    if (text[i] !== ',') return found
    i = skipSpace(text, i + 1)
  }
}

/** A replacement of the text in [start, end). */
export interface Edit {
  start: number
  end: number
  text: string
}

/** `text` with the edits (which do not overlap) applied. */
export function applyEdits (text: string, edits: Edit[]): string {
  if (edits.length === 0) return text
  const sorted = [...edits].sort((a, b) => a.start - b.start)
  let out = ''
  let at = 0
  for (const edit of sorted) {
    out += text.slice(at, edit.start) + edit.text
    at = edit.end
  }
  return out + text.slice(at)
}
