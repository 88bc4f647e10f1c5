import t from 'tap'
import { arrayLongerThan } from '../src/plugins/json-body.js'

t.test('a batch is counted without parsing: commas of the top level only', async t => {
  const count = (text: string, max: number): number | undefined => arrayLongerThan(Buffer.from(text), max)
  t.equal(count('[1,2,3]', 2), 3)
  t.equal(count('[1,2,3]', 3), undefined)
  t.equal(count('  \n[{"a":[1,2,3],"b":{"c":1,"d":2}},"x,y",[4,5]]', 2), 3, 'commas in objects, arrays and strings are not items')
  t.equal(count('[{"a":[1,2,3],"b":{"c":1,"d":2}},"x,y",[4,5]]', 3), undefined)
  t.equal(count('["a\\",b","c\\\\",1]', 2), 3, 'escaped quotes and backslashes end or do not end strings')
  t.equal(count('[]', 1), undefined)
  t.equal(count('[{}]', 1), undefined)
  t.equal(count('{"a":[1,2,3]}', 1), undefined, 'an object is one event')
  t.equal(count('', 1), undefined)
  t.equal(count(`[${new Array(1_000_000).fill(0).join(',')}]`, 1000), 1_000_000)
})
