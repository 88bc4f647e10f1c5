import type { ConsoleQuarantine } from '../db/console/console-quarantine.js'
import { replayQuarantined, type Replayer, type ReplayResult } from './replay.js'

/** Items read per page when replaying the whole quarantine. */
const PAGE = 100

/**
 * Replays the named items, or every item (oldest first, a page of ids at a time, so that memory stays
 * bounded), calling `report` after each. Items that stay refused are passed over, never tried twice.
 */
export async function replayMany (replayer: Replayer & { quarantine: ConsoleQuarantine }, which: { all: true } | { all: false, ids: number[] },
  report: (result: ReplayResult) => void): Promise<ReplayResult[]> {
  const results: ReplayResult[] = []
  const one = async (id: number): Promise<void> => {
    const result = await replayQuarantined(replayer, id)
    results.push(result)
    report(result)
  }
  if (!which.all) {
    for (const id of which.ids) await one(id)
    return results
  }
  for (let after = 0; ;) {
    const ids = await replayer.quarantine.ids(PAGE, after)
    for (const id of ids) await one(id)
    if (ids.length < PAGE) return results
    after = ids[ids.length - 1]
  }
}
