import t from 'tap'
import { MAX_DEPTH, jsonProblem, stringProblem, tooManyValues } from '../../src/events/json-value.js'

const fieldOf = (value: unknown, base = '', max?: number): string | undefined => jsonProblem(value, base, max)?.field

t.test('the pointer of the first container nested too deep, with keys escaped as JSON pointers', async t => {
  t.equal(fieldOf({ a: { 'b/c': { 'd~e': [[1]] } } }, '/body', 3), '/body/a/b~1c/d~0e')
  t.equal(fieldOf([{ x: 1 }, { y: [{ z: {} }] }], '', 3), '/1/y/0')
  t.equal(fieldOf({ a: { b: { c: 1 } } }, '', 3), undefined, 'three levels of containers are allowed at max 3')
  t.match(jsonProblem([[[[]]]], '', 3), { message: 'is nested deeper than 3 levels' })
})

t.test('scalars and shallow values pass; the default limit is MAX_DEPTH', async t => {
  for (const value of [null, 1, 'x', true, {}, [], { a: [1, 'two', null] }, 'caf\u00e9 \ud83d\ude00']) t.equal(jsonProblem(value, ''), undefined)
  const nest = (n: number): unknown => n === 0 ? 1 : [nest(n - 1)]
  t.equal(fieldOf(nest(MAX_DEPTH)), undefined)
  t.equal(fieldOf(nest(MAX_DEPTH + 1)), '/0'.repeat(MAX_DEPTH))
})

t.test('__proto__ and constructor.prototype are refused where they are, as plain data', async t => {
  const parsed = JSON.parse('{"a":{"__proto__":{"admin":true}}}')
  t.equal(({} as Record<string, unknown>).admin, undefined, 'JSON.parse pollutes nothing')
  t.same(jsonProblem(parsed, '/b'), { field: '/b/a/__proto__', message: 'is a property name this service refuses (__proto__)' })
  t.same(jsonProblem(JSON.parse('[{"constructor":{"prototype":{"x":1}}}]'), ''), { field: '/0/constructor', message: 'is a property name this service refuses (constructor.prototype)' })
  t.equal(jsonProblem({ constructor: 'a name' }, ''), undefined, 'a constructor key holding plain data is data')
  t.equal(jsonProblem(['__proto__'], ''), undefined, 'as a value it is only text')
})

t.test('numbers beyond JSON\'s range are refused, never turned into null', async t => {
  t.same(jsonProblem(JSON.parse('{"a":[1e309]}'), ''), { field: '/a/0', message: 'is a number outside what JSON can carry (beyond ±1.8e308)' })
  t.match(jsonProblem(-Infinity, '/x'), { field: '/x' })
  t.equal(jsonProblem(1.7e308, ''), undefined)
})

t.test('strings and names that cannot be stored exactly are refused', async t => {
  t.match(jsonProblem(JSON.parse('{"name":"a\\ud800b"}'), ''), { field: '/name', message: /unpaired UTF-16 surrogate/ })
  t.match(jsonProblem(JSON.parse('{"a\\udc00":1}'), ''), { field: '/a\udc00', message: /unpaired/ })
  t.match(jsonProblem('x\u0000', '/s'), { field: '/s', message: 'contains the character U+0000' })
  t.equal(stringProblem('\ud83d\ude00'), undefined, 'a surrogate pair is a character')
  t.ok(stringProblem('\ude00\ud83d'), 'a reversed pair is two unpaired halves')
})

t.test('a value budget counts values as containers are visited, and refuses at the base when it runs out', async t => {
  const budget = { max: 5, used: 0 }
  t.equal(jsonProblem({ a: [1, 2], b: {} }, '/x', undefined, budget), undefined)
  t.equal(budget.used, 4, 'a, b and the two elements')
  t.same(jsonProblem({ c: 1, d: 2 }, '/y', undefined, budget), { field: '/y', message: tooManyValues(5) })
  t.match(tooManyValues(5), /^holds more than 5 values/)
})
