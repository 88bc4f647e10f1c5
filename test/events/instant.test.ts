import t from 'tap'
import { instantProblem } from '../../src/events/instant.js'

t.test('RFC 3339 instants are checked strictly', async t => {
  t.equal(instantProblem('2026-05-19T02:22:58Z'), undefined)
  t.equal(instantProblem('2024-02-29T23:59:59.123456789+14:00'), undefined)
  t.equal(instantProblem('2026-05-19 02:22:58Z'), 'is not an RFC 3339 date-time (e.g. 2026-05-19T02:22:58Z)')
  t.equal(instantProblem('1900-02-29T00:00:00Z'), 'has no day 29 in 1900-02', 'a century is no leap year')
  t.equal(instantProblem('2026-05-19T02:22:58+05:60'), 'has no UTC offset +05:60')
})
