// RFC 3339 instants, checked strictly: Date.parse rolls 2026-02-30 over to March 2 and reads T24:00 as the
// next day, so a date that names no real instant would otherwise be stored as another one.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/

const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** Why `value` is not an RFC 3339 date-time that names a real instant, or undefined. Leap seconds (:60) are refused. */
export function instantProblem (value: string): string | undefined {
  const m = RFC3339.exec(value)
  if (m === null) return 'is not an RFC 3339 date-time (e.g. 2026-05-19T02:22:58Z)'
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number)
  if (month < 1 || month > 12) return `has no month ${m[2]}`
  const days = month === 2 && isLeap(year) ? 29 : DAYS[month - 1]
  if (day < 1 || day > days) return `has no day ${m[3]} in ${m[1]}-${m[2]}`
  if (hour > 23 || minute > 59 || second > 59) return `has no time of day ${m[4]}:${m[5]}:${m[6]}`
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return `has no UTC offset ${m[8]}`
  return undefined
}
