import t from 'tap'
import { makeVersion, methodRank, NO_VERSION, versionTime } from '../../src/events/version.js'

t.test('versions order by time, then method rank, then envelope id', async t => {
  const at = Date.parse('2026-05-19T02:22:58Z')
  const ordered = [
    makeVersion(at - 1000, 'DELETE', 'zzz'),
    makeVersion(at, 'POST', 'zzz'),
    makeVersion(at, 'PUT', 'aaa'),
    makeVersion(at, 'PATCH', 'bbb'),
    makeVersion(at, 'DELETE', 'aaa'),
    makeVersion(at + 1, 'POST', 'aaa'),
    makeVersion(at + 1000, 'POST', '0')
  ]
  t.same([...ordered].reverse().sort(), ordered, 'text order is the tuple order')
  t.ok(ordered.every(v => v > NO_VERSION), 'every version beats "never written"')
  t.ok(makeVersion(9e12, 'POST', 'a') > makeVersion(1e12, 'POST', 'a'), 'fixed width: 13-digit times compare as numbers')
  t.same(versionTime(ordered[1]), new Date(at))
})

t.test('method ranks', async t => {
  t.same(['POST', 'put', 'PATCH', 'delete'].map(methodRank), [0, 1, 1, 2])
})
