import t from 'tap'
import { scanJson } from '../src/events/json-scan.js'
import { BodyError, parseBody } from '../src/plugins/json-body.js'
import { OversizedEvent } from '../src/events/oversized.js'
import { MAX_EVENT_VALUES } from '../src/events/json-value.js'

t.test('a batch is counted without parsing: commas of the top level only', async t => {
  const count = (text: string, max: number): number | undefined => {
    const { itemCount } = scanJson(Buffer.from(text), max)
    return itemCount > max ? itemCount : undefined
  }
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
  t.equal(count('\ufeff[1,2,3]', 2), 3, 'a byte order mark does not hide the array')
})

const problem = async (text: string | Buffer, maxItems = 10): Promise<BodyError> =>
  await parseBody(Buffer.from(text), maxItems).then(() => { throw new Error('parsed') }, (err: BodyError) => err)

t.test('parseBody: an event, a batch parsed item by item, and what is refused before anything is recorded', async t => {
  t.same(await parseBody(Buffer.from(' {"a":[1,{"__proto__":2}]} '), 10), JSON.parse('{"a":[1,{"__proto__":2}]}'))
  t.same(await parseBody(Buffer.from('\ufeff[ {"a":1} , [1,2] ,"x,]"]'), 10), [{ a: 1 }, [1, 2], 'x,]'])
  t.same(await parseBody(Buffer.from('[ ]'), 10), [])
  t.match(await problem(''), { statusCode: 400, code: 'EMPTY_BODY' })
  t.match(await problem('[1,2,3]', 2), { statusCode: 413, message: 'a batch holds at most 2 events (BATCH_MAX_ITEMS); this one has 3: nothing was recorded' })
  t.match(await problem(Buffer.from([0x5b, 0x22, 0xe9, 0x22, 0x5d])), { statusCode: 400, message: 'Body is not valid UTF-8' })
  t.match(await problem('{"id":'), { statusCode: 400, code: 'INVALID_JSON', message: /^Body is not valid JSON: / })
  t.match(await problem('[{"a":1},{"a":}]'), { statusCode: 400, message: /^Body is not valid JSON: item 1: / })
  t.match(await problem('[1,]'), { statusCode: 400, message: /^Body is not valid JSON: item 1: / })
  t.match(await problem('[1,2'), { statusCode: 400, message: 'Body is not valid JSON: the array is not closed, or text follows it' })
  t.match(await problem('[1] [2]'), { statusCode: 400, message: 'Body is not valid JSON: the array is not closed, or text follows it' })
  t.match(await problem('[1]]'), { statusCode: 400, message: 'Body is not valid JSON: the array is not closed, or text follows it' })
})

t.test('an event of more than MAX_EVENT_VALUES values is not parsed, alone or in a batch', async t => {
  const big = JSON.stringify({ id: 'e-big', attributes: Object.fromEntries(Array.from({ length: MAX_EVENT_VALUES }, (_, i) => [`k${i}`, i])) })
  const alone = await parseBody(Buffer.from(big), 10)
  t.ok(alone instanceof OversizedEvent)
  t.equal((alone as OversizedEvent).values, MAX_EVENT_VALUES + 2, 'id, attributes and the attributes\' members')
  t.equal((alone as OversizedEvent).bytes, Buffer.byteLength(big))
  const atLimit = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_EVENT_VALUES }, (_, i) => [`k${i}`, i])))
  t.equal(Object.keys(await parseBody(Buffer.from(atLimit), 10) as object).length, MAX_EVENT_VALUES, 'MAX_EVENT_VALUES values are parsed')
  const batch = await parseBody(Buffer.from(`[{"a":1},${big},[]]`), 10) as unknown[]
  t.same(batch[0], { a: 1 })
  t.ok(batch[1] instanceof OversizedEvent)
  t.same(batch[2], [])
})
