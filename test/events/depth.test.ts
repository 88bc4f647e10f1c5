import t from 'tap'
import { MAX_DEPTH, tooDeep } from '../../src/events/depth.js'

t.test('the pointer of the first container nested too deep, with keys escaped as JSON pointers', async t => {
  t.equal(tooDeep({ a: { 'b/c': { 'd~e': [[1]] } } }, '/body', 3), '/body/a/b~1c/d~0e')
  t.equal(tooDeep([{ x: 1 }, { y: [{ z: {} }] }], '', 3), '/1/y/0')
  t.equal(tooDeep({ a: { b: { c: 1 } } }, '', 3), undefined, 'three levels of containers are allowed at max 3')
})

t.test('scalars and shallow values pass; the default limit is MAX_DEPTH', async t => {
  for (const value of [null, 1, 'x', true, {}, [], { a: [1, 'two', null] }]) t.equal(tooDeep(value, ''), undefined)
  const nest = (n: number): unknown => n === 0 ? 1 : [nest(n - 1)]
  t.equal(tooDeep(nest(MAX_DEPTH), ''), undefined)
  t.equal(tooDeep(nest(MAX_DEPTH + 1), ''), '/0'.repeat(MAX_DEPTH))
})
