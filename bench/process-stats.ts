import { readFileSync } from 'node:fs'

// A bench target's process as /proc sees it: CPU used and memory, for the bench scripts (run.ts, slow-disk.ts).

/** CPU time (user + system) the process has used so far, ms (clock ticks of 10 ms, Linux's USER_HZ of 100). */
export function cpuMs (pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}
