/** Deeper than this is refused: SaaSus bodies are a few levels deep, and recursive code must not overflow. */
export const MAX_DEPTH = 64

const escape = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1')

/** An array or object still to visit, and how it was reached (its pointer is spelled out only if needed). */
interface Frame {
  node: object
  depth: number
  parent: Frame | undefined
  key: string
}

function pointerOf (frame: Frame, base: string): string {
  const keys: string[] = []
  for (let f: Frame | undefined = frame; f?.parent !== undefined; f = f.parent) keys.push(escape(f.key))
  return base + keys.reverse().map(key => `/${key}`).join('')
}

/**
 * The JSON pointer (below `base`) of the first array or object nested deeper than `max` levels, or
 * undefined. Iterative, so that it cannot itself overflow the stack; runs on every request, so it visits
 * only arrays and objects and builds no pointer unless it fails.
 */
export function tooDeep (value: unknown, base: string, max: number = MAX_DEPTH): string | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const stack: Frame[] = [{ node: value, depth: 0, parent: undefined, key: '' }]
  while (stack.length > 0) {
    const frame = stack.pop()!
    if (frame.depth >= max) return pointerOf(frame, base)
    const node = frame.node as Record<string, unknown>
    for (const key of Object.keys(node)) {
      const inner = node[key]
      if (inner !== null && typeof inner === 'object') stack.push({ node: inner, depth: frame.depth + 1, parent: frame, key })
    }
  }
  return undefined
}
