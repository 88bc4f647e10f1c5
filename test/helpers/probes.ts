import { Worker } from 'node:worker_threads'

// /healthz and intake probes of a stress file in a worker thread (probe-thread.ts): timed on an event loop
// that does nothing else, read here by the instant each finished.

export interface Sample {
  kind: 'health' | 'intake'
  /** When it finished (ms since the epoch, fractional). */
  at: number
  ms: number
  /** The answer's status; 0: no answer (error or 30 s time-out). */
  status: number
}

/** What the samples finished between `from` and `to` (ms since the epoch) say, against a stress file's goals. */
export interface Figures {
  /** The slowest /healthz answer. */
  worstHealthMs: number
  /** /healthz answers that were not 200 (or none at all). */
  healthFailures: number
  /** The intake probes' times, shortest first, and their 99th percentile (0 without any). */
  intakeMs: number[]
  intakeP99Ms: number
  /** The intake probes' statuses that were not 200. */
  intakeFailures: number[]
}

export function figures (samples: Sample[], from = -Infinity, to = Infinity): Figures {
  const within = samples.filter(p => p.at >= from && p.at <= to)
  const health = within.filter(p => p.kind === 'health')
  const intake = within.filter(p => p.kind === 'intake')
  const intakeMs = intake.map(p => p.ms).sort((a, b) => a - b)
  return {
    worstHealthMs: Math.max(0, ...health.map(p => p.ms)),
    healthFailures: health.filter(p => p.status !== 200).length,
    intakeMs,
    intakeP99Ms: intakeMs[Math.min(intakeMs.length - 1, Math.floor(intakeMs.length * 0.99))] ?? 0,
    intakeFailures: intake.filter(p => p.status !== 200).map(p => p.status)
  }
}

export interface Probes {
  /** Every sample finished so far (those finished before this call included). */
  samples: () => Promise<Sample[]>
  /** Intake probes from now on post events recorded as `ignored` (no feed entry: the feed's head stays), or not. */
  feedless: (on: boolean) => Promise<void>
  stop: () => Promise<void>
}

export async function startProbes (port: number, key: string): Promise<Probes> {
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const thread = JSON.stringify(new URL('./probe-thread.ts', import.meta.url).href)
  const worker = new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${thread}) })`, { eval: true, execArgv: [], workerData: { port, key } })
  const all: Sample[] = []
  const waiting = new Map<number, () => void>()
  let stopped: (() => void) | undefined
  let flushes = 0
  let done = false
  await new Promise<void>((resolve, reject) => {
    worker.on('error', reject)
    worker.on('message', (m: Sample | { ready: true } | { flushed: number } | { stopped: true }) => {
      if ('ready' in m) resolve()
      else if ('flushed' in m) { waiting.get(m.flushed)?.(); waiting.delete(m.flushed) }
      else if ('stopped' in m) stopped?.()
      else all.push(m)
    })
  })
  /** Sends `message` and waits for the thread to have handled it. */
  const tell = async (message: { feedless?: boolean }): Promise<void> => {
    const flush = ++flushes
    await new Promise<void>(resolve => { waiting.set(flush, resolve); worker.postMessage({ ...message, flush }) })
  }
  return {
    samples: async () => {
      await tell({})
      return all
    },
    feedless: async on => { await tell({ feedless: on }) },
    stop: async () => {
      if (done) return
      done = true
      await new Promise<void>(resolve => { stopped = resolve; worker.postMessage({ stop: true }) })
      await worker.terminate()
    }
  }
}
