'use strict'

// groupBy against a plain-JS reference (pandas' semantics: NaN skipped, sample std with
// ddof 1, numpy's linear quantiles, missing keys in no group), on category and integer keys of
// every integer kind, random data (fast-check), edge cases, and the errors.

const assert = require('node:assert/strict')
const { describe: suite, it } = require('node:test')
const fc = require('fast-check')

const offload = require('..')

/** Per key (in first-seen order): the non-NaN values. */
function bucket(keys, values) {
  const m = new Map()
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (k === undefined || k === null) continue
    if (!m.has(k)) m.set(k, { size: 0, vals: [] })
    const e = m.get(k)
    e.size++
    if (!Number.isNaN(Number(values[i]))) e.vals.push(Number(values[i]))
  }
  return m
}

function linear(sorted, p) {
  if (sorted.length === 0) return NaN
  const pos = p * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, sorted.length - 1)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

function stats(vals, ddof = 1) {
  const n = vals.length
  const sum = vals.reduce((a, b) => a + b, 0)
  const mean = n ? sum / n : NaN
  const m2 = vals.reduce((a, b) => a + (b - mean) ** 2, 0)
  const sorted = [...vals].sort((a, b) => a - b)
  return { count: n, sum, mean, min: n ? sorted[0] : NaN, max: n ? sorted[n - 1] : NaN, std: n - ddof > 0 ? Math.sqrt(m2 / (n - ddof)) : NaN, sorted }
}

function close(a, b, what) {
  if (Number.isNaN(b)) return assert.ok(Number.isNaN(a), `${what}: ${a} vs NaN`)
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`)
}

/** Checks a groupBy result against the reference for keys given as plain values per row. */
function check(result, rowKeys, columns, { ddof = 1, quantiles = [], sortKeys }) {
  const names = Object.keys(columns)
  const ref = bucket(rowKeys, columns[names[0]])
  let order = [...ref.keys()]
  if (sortKeys) order = order.sort(sortKeys)
  assert.equal(result.groups, order.length)
  assert.deepEqual(Array.from(result.keys), order)
  assert.deepEqual(Array.from(result.size), order.map((k) => ref.get(k).size))
  for (const name of names) {
    const per = bucket(rowKeys, columns[name])
    order.forEach((k, g) => {
      const s = stats(per.get(k).vals, ddof)
      const c = result.columns[name]
      for (const a of ['count', 'sum', 'mean', 'min', 'max', 'std']) if (c[a]) close(c[a][g], s[a], `${name} ${a} of ${k}`)
      quantiles.forEach((p, q) => close(c.quantiles[q][g], linear(s.sorted, p), `${name} q${p} of ${k}`))
    })
  }
}

suite('groupBy', () => {
  it('by a category column (as readCsv makes it): groups in category order, missing codes in no group', async () => {
    const csv = 'route,latency,bytes\n' + Array.from({ length: 5000 }, (_, i) => `${i % 97 === 0 ? '' : `/r${(i * 7) % 13}`},${i % 50 === 0 ? 'NaN' : (i % 113) / 3},${i}`).join('\n')
    const t = await offload.parseCsv(csv, { types: { route: 'category' } })
    const { codes, values } = t.columns.route
    const rowKeys = Array.from(codes, (c) => (c === 0xffffffff ? undefined : values[c]))
    const cols = { latency: t.columns.latency, bytes: t.columns.bytes }
    const r = await offload.groupBy(t.columns.route, cols, { aggregations: ['count', 'sum', 'mean', 'min', 'max', 'std'], quantiles: [0, 0.5, 0.99, 1] })
    check(r, rowKeys, cols, { quantiles: [0, 0.5, 0.99, 1] })
    assert.deepEqual(r.keys, values.filter((v) => rowKeys.includes(v)))
  })

  it('by integer keys of every kind: ascending keys of the same kind, narrow and wide ranges', async () => {
    const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array]
    for (const Kind of kinds) {
      const big = Kind === BigInt64Array || Kind === BigUint64Array
      for (const spread of [1, 1_000_003]) {
        if (!big && spread > 1 && Kind.BYTES_PER_ELEMENT < 4) continue
        const n = 20_000
        const keys = new Kind(n)
        const values = new Float32Array(n)
        for (let i = 0; i < n; i++) {
          const k = ((i * 2654435761) % 41) * spread
          keys[i] = big ? BigInt(k) : k
          values[i] = i % 31 === 0 ? NaN : Math.sin(i) * 100
        }
        const r = await offload.groupBy(keys, values, { aggregations: ['count', 'mean', 'std', 'min', 'max'], quantiles: [0.25] })
        assert.ok(r.keys instanceof Kind, Kind.name)
        check(r, Array.from(keys), { value: values }, { quantiles: [0.25], sortKeys: (a, b) => (a < b ? -1 : a > b ? 1 : 0) })
      }
    }
  })

  it('random tables agree with the reference (fast-check), ddof included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(NaN))), { maxLength: 300 }),
        fc.constantFrom(0, 1, 2),
        async (rows, ddof) => {
          const keys = Int32Array.from(rows, (r) => r[0])
          const values = Float64Array.from(rows, (r) => r[1])
          const r = await offload.groupBy(keys, { v: values }, { aggregations: ['count', 'sum', 'mean', 'min', 'max', 'std'], quantiles: [0.5, 0.9], ddof })
          check(r, Array.from(keys), { v: values }, { ddof, quantiles: [0.5, 0.9], sortKeys: (a, b) => a - b })
        },
      ),
      { numRuns: 150 },
    )
  })

  it('edge cases: empty input, one row, all-NaN groups, ±Infinity, -0, a column named __proto__', async () => {
    const e = await offload.groupBy(new Int32Array(0), new Float64Array(0), { aggregations: ['count', 'sum'] })
    assert.equal(e.groups, 0)
    assert.deepEqual(e.keys, new Int32Array(0))
    const one = await offload.groupBy(new Uint8Array([7]), new Float64Array([-0]), { aggregations: ['sum', 'mean', 'std', 'min'] })
    assert.deepEqual(Array.from(one.keys), [7])
    assert.ok(Number.isNaN(one.columns.value.std[0]))
    assert.ok(Object.is(one.columns.value.min[0], -0))
    const nan = await offload.groupBy(new Int32Array([1, 1, 2]), new Float64Array([NaN, NaN, Infinity]), { aggregations: ['count', 'sum', 'mean', 'min', 'max', 'std'], quantiles: [0.5] })
    const v = nan.columns.value
    assert.deepEqual(Array.from(v.count), [0, 1])
    assert.deepEqual(Array.from(v.sum), [0, Infinity])
    assert.ok(Number.isNaN(v.mean[0]) && Number.isNaN(v.min[0]) && Number.isNaN(v.quantiles[0][0]))
    assert.equal(v.mean[1], Infinity)
    assert.ok(Number.isNaN(v.std[1]))
    const named = Object.defineProperty({}, '__proto__', { value: new Float64Array([2]), enumerable: true })
    const p2 = await offload.groupBy(new Int32Array([1]), named)
    assert.deepEqual(Object.keys(p2.columns), ['__proto__'])
    assert.equal(Object.getPrototypeOf(p2.columns), Object.prototype)
    assert.deepEqual(Array.from(p2.columns.__proto__.mean), [2])
  })

  it('a million rows across chunks and threads, and an abort', async () => {
    const n = 1_000_000
    const keys = new Uint16Array(n)
    const values = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      keys[i] = (i * 7919) % 1000
      values[i] = ((i * 104729) % 10007) / 7
    }
    const r = await offload.groupBy(keys, values, { aggregations: ['count', 'mean', 'std'], quantiles: [0.99] })
    check(r, Array.from(keys), { value: values }, { quantiles: [0.99], sortKeys: (a, b) => a - b })
    const ac = new AbortController()
    const p = offload.groupBy(keys, values, { aggregations: ['std'], quantiles: [0.5], signal: ac.signal })
    ac.abort(new Error('stop'))
    await assert.rejects(p, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'stop')
  })

  it('bad arguments are Node-style errors naming the argument', async () => {
    const k = new Int32Array(3)
    const x = new Float64Array(3)
    const cases = [
      [() => offload.groupBy(new Float64Array(3), x), 'ERR_INVALID_ARG_TYPE', /keys/],
      [() => offload.groupBy({ codes: [0], values: ['a'] }, x), 'ERR_INVALID_ARG_TYPE', /keys/],
      [() => offload.groupBy(k, [1, 2, 3]), 'ERR_INVALID_ARG_TYPE', /values/],
      [() => offload.groupBy(k, new Float64Array(2)), 'ERR_INVALID_ARG_VALUE', /length \(3\)/],
      [() => offload.groupBy(k, { a: new Float64Array(4) }), 'ERR_INVALID_ARG_VALUE', /values\["a"\]/],
      [() => offload.groupBy(k, {}), 'ERR_INVALID_ARG_VALUE', /values/],
      [() => offload.groupBy(k, x, { aggregations: ['median'] }), 'ERR_INVALID_ARG_VALUE', /aggregations\[0\]/],
      [() => offload.groupBy(k, x, { aggregations: 'mean' }), 'ERR_INVALID_ARG_TYPE', /aggregations/],
      [() => offload.groupBy(k, x, { quantiles: [1.5] }), 'ERR_OUT_OF_RANGE', /quantiles\[0\]/],
      [() => offload.groupBy(k, x, { ddof: -1 }), 'ERR_OUT_OF_RANGE', /ddof/],
      [() => offload.groupBy(k, x, { aggregations: [] }), 'ERR_INVALID_ARG_VALUE', /aggregations/],
      [() => offload.groupBy({ codes: new Uint32Array([0, 5, 1]), values: ['a', 'b'] }, x), 'ERR_INVALID_ARG_VALUE', /past the 2 values/],
    ]
    for (const [call, code, message] of cases) {
      await assert.rejects(call(), (e) => {
        assert.equal(e.code, code, `${e.code}: ${e.message}`)
        assert.match(e.message, message)
        return true
      })
    }
  })
})
