/** Deeper than this is refused: SaaSus bodies are a few levels deep, and recursive code must not overflow. */
export const MAX_DEPTH = 64

const escape = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1')

/**
 * The JSON pointer (below `base`) of the first array or object nested deeper than `max` levels, or
 * undefined. Iterative, so that it cannot itself overflow the stack.
 */
export function tooDeep (value: unknown, base: string, max: number = MAX_DEPTH): string | undefined {
  const stack: Array<[unknown, string, number]> = [[value, base, 0]]
  while (stack.length > 0) {
    const [node, pointer, depth] = stack.pop() as [unknown, string, number]
    if (node === null || typeof node !== 'object') continue
    if (depth >= max) return pointer
    for (const [key, inner] of Object.entries(node)) stack.push([inner, `${pointer}/${escape(key)}`, depth + 1])
  }
  return undefined
}
