'use strict'

const assert = require('node:assert/strict')
const { describe: suite, it } = require('node:test')

const offload = require('..')
const ref = require('./reference.js')

const SIZES = [0, 1, 2, 3, 17, 64, 65, 2047, 2048, 2049, 40_000]

/** Bit-exact equality for floats (so -0 and +0 differ), any NaN equal to any NaN. */
function assertSameValues(actual, expected, message) {
  assert.equal(actual.constructor, expected.constructor, message)
  assert.equal(actual.length, expected.length, message)
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]
    const b = expected[i]
    if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) {
      assert.fail(`${message}: index ${i}: ${String(a)} !== ${String(b)}`)
    }
  }
}

function close(actual, expected, rel, message) {
  if (Number.isNaN(expected)) return assert.ok(Number.isNaN(actual), `${message}: ${actual} should be NaN`)
  if (!Number.isFinite(expected)) return assert.equal(actual, expected, message)
  const tol = rel * Math.max(1, Math.abs(expected))
  assert.ok(Math.abs(actual - expected) <= tol, `${message}: ${actual} vs ${expected}`)
}

/**
 * Checks `order` is the stable argsort of `input` whose values in order are `sorted` (the
 * reference sort): a permutation of 0..n-1, input[order[k]] bit-equal to sorted[k], and equal
 * values in ascending index order. Those three define a stable argsort, and checking them takes
 * one pass (a comparator sort of the indices as reference takes minutes under emulation).
 */
function assertStableArgsort(order, input, sorted, message) {
  assert.ok(order instanceof Uint32Array, message)
  assert.equal(order.length, input.length, message)
  const seen = new Uint8Array(input.length)
  const same = (a, b) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))
  for (let k = 0; k < order.length; k++) {
    const i = order[k]
    if (i >= input.length || seen[i]) assert.fail(`${message}: position ${k}: index ${i} out of range or repeated`)
    seen[i] = 1
    if (!same(input[i], sorted[k])) assert.fail(`${message}: position ${k}: input[${i}] = ${String(input[i])}, the sort has ${String(sorted[k])}`)
    if (k > 0 && same(input[i], input[order[k - 1]]) && i < order[k - 1]) assert.fail(`${message}: position ${k}: equal values out of index order (${order[k - 1]} then ${i})`)
  }
}

suite('sort', () => {
  it('matches TypedArray.prototype.sort for every kind and size, both directions', async () => {
    const random = ref.rng(42)
    for (const Kind of ref.KINDS) {
      for (const n of SIZES) {
        const input = ref.randomArray(Kind, n, random)
        const before = input.slice()
        for (const descending of [false, true]) {
          const out = await offload.sort(input, { descending })
          assertSameValues(out, ref.sortReference(input, descending), `${Kind.name} n=${n} desc=${descending}`)
          assert.notEqual(out, input)
        }
        assertSameValues(input, before, 'input untouched')
      }
    }
  })

  it('orders the float edge values like JS: NaN last, -0 before +0', async () => {
    const input = new Float64Array([NaN, 0, -0, Infinity, -Infinity, 1e-320, -1e-320, NaN, 3])
    assertSameValues(await offload.sort(input), input.slice().sort(), 'ascending')
    const desc = await offload.sort(input, { descending: true })
    assertSameValues(desc, new Float64Array([Infinity, 3, 1e-320, 0, -0, -1e-320, -Infinity, NaN, NaN]), 'descending')
  })

  it('handles sorted, reversed and all-equal inputs around the radix thresholds', async () => {
    for (const n of [100_000, 300_001]) {
      const up = Float64Array.from({ length: n }, (_, i) => i - n / 2)
      assertSameValues(await offload.sort(up), up, 'sorted')
      const down = up.slice().reverse()
      assertSameValues(await offload.sort(down), up, 'reversed')
      const same = new Int32Array(n).fill(-7)
      assertSameValues(await offload.sort(same), same, 'all equal')
    }
  })

  it('sorts large arrays of a few distinct values, or one value more than its sample saw, and sorted arrays', async () => {
    // Few distinct values sort by counting; sorted input is only checked. Both must give
    // the reference order for every kind, both directions, copy and in place, and fall back
    // when a value the sample missed (or a single pair out of order) is there.
    const random = ref.rng(19)
    const n = 200_003
    for (const Kind of ref.KINDS) {
      const pool = ref.randomArray(Kind, 64, random).slice(0, 5)
      const few = new Kind(n)
      for (let i = 0; i < n; i++) few[i] = pool[Math.floor(random() * pool.length)]
      const rare = few.slice()
      rare[n - 2] = ref.randomArray(Kind, 1, random)[0]
      const sorted = ref.sortReference(ref.randomArray(Kind, n, random), false)
      const almost = sorted.slice()
      ;[almost[n - 3], almost[n - 2]] = [almost[n - 2], almost[n - 3]]
      for (const [name, input] of [['few', few], ['rare', rare], ['sorted', sorted], ['almost', almost]]) {
        for (const descending of [false, true]) {
          const expected = ref.sortReference(input, descending)
          const what = `${Kind.name} ${name} desc=${descending}`
          assertSameValues(await offload.sort(input, { descending }), expected, what)
          const copy = input.slice()
          await offload.sort(copy, { descending, inPlace: true })
          assertSameValues(copy, expected, `${what} in place`)
          assertStableArgsort(await offload.argsort(input, { descending }), input, expected, `${what} argsort`)
        }
      }
    }
  })

  it('sorts many values within a small range (sorted by counting) like the reference, every kind', async () => {
    // Power-law values: most fall in a few thousand keys, so whole buckets (and, for the
    // narrow kinds, the whole array) are sorted by counting; floats are quarter steps, with
    // -0, +0 and NaN among them.
    const random = ref.rng(23)
    const n = 300_003
    for (const Kind of ref.KINDS) {
      const input = new Kind(n)
      for (let i = 0; i < n; i++) {
        const v = Math.floor(random() ** 8 * 6000) - 1500
        // (BigUint64 values stay small: the reference compares them as Numbers.)
        if (Kind === BigInt64Array) input[i] = BigInt(v)
        else if (Kind === BigUint64Array) input[i] = BigInt(v + 1500)
        else if (Kind === Float32Array || Kind === Float64Array) input[i] = i % 1000 === 7 ? -0 : i % 977 === 0 ? NaN : v / 4
        else input[i] = v
      }
      for (const descending of [false, true]) {
        const expected = ref.sortReference(input, descending)
        assertSameValues(await offload.sort(input, { descending }), expected, `${Kind.name} desc=${descending}`)
        const copy = input.slice()
        await offload.sort(copy, { descending, inPlace: true })
        assertSameValues(copy, expected, `${Kind.name} desc=${descending} in place`)
        assertStableArgsort(await offload.argsort(input, { descending }), input, expected, `${Kind.name} argsort`)
      }
    }
  })

  it('sorts in place when asked and resolves to the same array', async () => {
    const random = ref.rng(7)
    for (const Kind of ref.KINDS) {
      const input = ref.randomArray(Kind, 5000, random)
      const expected = ref.sortReference(input, true)
      const out = await offload.sort(input, { inPlace: true, descending: true })
      assert.equal(out, input)
      assertSameValues(input, expected, Kind.name)
    }
  })

  it('sorts only the elements a subarray views', async () => {
    const whole = Float64Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1])
    const view = whole.subarray(2, 6)
    assertSameValues(await offload.sort(view), new Float64Array([4, 5, 6, 7]), 'copy')
    await offload.sort(view, { inPlace: true })
    assertSameValues(whole, new Float64Array([9, 8, 4, 5, 6, 7, 3, 2, 1]), 'in place')
  })
})

suite('argsort', () => {
  it('is the stable permutation of the reference order for every kind', async () => {
    const random = ref.rng(3)
    for (const Kind of ref.KINDS) {
      for (const n of SIZES) {
        const input = ref.randomArray(Kind, n, random)
        for (const descending of [false, true]) {
          const idx = await offload.argsort(input, { descending })
          assert.ok(idx instanceof Uint32Array)
          assertSameValues(idx, ref.argsortReference(input, descending), `${Kind.name} n=${n} desc=${descending}`)
        }
      }
    }
  })

  it('keeps index order among many ties on large inputs', async () => {
    const random = ref.rng(11)
    const input = Float64Array.from({ length: 200_000 }, () => Math.floor(random() * 5))
    input[10] = NaN
    input[20] = -0
    for (const descending of [false, true]) {
      assertSameValues(await offload.argsort(input, { descending }), ref.argsortReference(input, descending), `desc=${descending}`)
    }
  })
})

suite('describe', () => {
  it('matches the reference for every kind, with ddof', async () => {
    const random = ref.rng(5)
    for (const Kind of ref.KINDS) {
      for (const n of SIZES) {
        const input = ref.randomArray(Kind, n, random)
        for (const ddof of [0, 1]) {
          const got = await offload.describe(input, { ddof })
          const want = ref.describeReference(input, ddof)
          const msg = `${Kind.name} n=${n} ddof=${ddof}`
          assert.equal(got.count, want.count, msg)
          assert.equal(got.nanCount, want.nanCount, msg)
          close(got.min, want.min, 0, `${msg} min`)
          close(got.max, want.max, 0, `${msg} max`)
          close(got.sum, want.sum, 1e-12, `${msg} sum`)
          close(got.mean, want.mean, 1e-12, `${msg} mean`)
          close(got.variance, want.variance, 1e-9, `${msg} variance`)
          close(got.stddev, want.stddev, 1e-9, `${msg} stddev`)
        }
      }
    }
  })

  it('sums [1e16, 1, -1e16] repeated a million times to exactly 1e6', async () => {
    const input = new Float64Array(3_000_000)
    for (let i = 0; i < input.length; i += 3) input.set([1e16, 1, -1e16], i)
    const d = await offload.describe(input)
    assert.equal(d.sum, 1e6)
    assert.equal(d.count, 3e6)
  })

  it('keeps the variance of values near 1e9 with a spread of 1', async () => {
    const random = ref.rng(9)
    const input = Float64Array.from({ length: 1_000_000 }, () => 1e9 + random())
    const got = await offload.describe(input)
    const want = ref.describeReference(input)
    close(got.variance, want.variance, 1e-9, 'variance')
    assert.ok(Math.abs(got.variance - 1 / 12) < 1e-3, `uniform spread of 1 has variance 1/12, got ${got.variance}`)
  })

  it('gives count 0, sum 0 and NaN for the rest on empty or all-NaN input', async () => {
    for (const input of [new Float64Array(0), new Float32Array([NaN, NaN])]) {
      const d = await offload.describe(input)
      assert.equal(d.count, 0)
      assert.equal(d.sum, 0)
      for (const k of ['min', 'max', 'mean', 'variance', 'stddev']) assert.ok(Number.isNaN(d[k]), k)
    }
  })

  it('propagates infinities as numpy does', async () => {
    const d = await offload.describe(new Float64Array([1, Infinity, 2]))
    assert.equal(d.sum, Infinity)
    assert.equal(d.max, Infinity)
    assert.ok(Number.isNaN(d.variance))
    assert.ok(Number.isNaN((await offload.describe(new Float64Array([Infinity, -Infinity]))).sum))
  })
})

suite('quantiles', () => {
  const probs = [0, 0.01, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 0.99, 1]

  it('matches numpy linear quantiles for every kind', async () => {
    const random = ref.rng(13)
    for (const Kind of ref.KINDS) {
      for (const n of SIZES) {
        const input = ref.randomArray(Kind, n, random)
        const got = await offload.quantiles(input, probs)
        assert.ok(got instanceof Float64Array)
        assertSameValues(got, ref.quantilesReference(input, probs), `${Kind.name} n=${n}`)
      }
    }
  })

  it('is exact on large clustered, spread and tied data', async () => {
    const random = ref.rng(17)
    const n = 500_000
    const sets = [
      Float64Array.from({ length: n }, () => random()),
      Float64Array.from({ length: n }, () => 1 + Math.floor(random() * 3) * 1e-12),
      Float64Array.from({ length: n }, () => (random() < 0.5 ? -1e300 : random() * 1e-300)),
    ]
    for (const input of sets) {
      const p = Float64Array.from({ length: 50 }, () => random())
      assertSameValues(await offload.quantiles(input, p), ref.quantilesReference(input, p), 'set')
    }
  })

  it('accepts a Float64Array of probabilities and returns NaN without values', async () => {
    const got = await offload.quantiles(new Float64Array([NaN, NaN]), new Float64Array([0.5, 1]))
    assert.ok(Number.isNaN(got[0]) && Number.isNaN(got[1]))
    assert.deepEqual(Array.from(await offload.quantiles(new Int8Array([4, 1, 3, 2]), [0.5])), [2.5])
    assert.equal((await offload.quantiles(new Float64Array([1, 2]), [])).length, 0)
  })
})

suite('histogram', () => {
  it('matches numpy.histogram for every kind, with and without range', async () => {
    const random = ref.rng(19)
    for (const Kind of ref.KINDS) {
      for (const n of SIZES) {
        const input = ref.randomArray(Kind, n, random)
        for (const [bins, range] of [[10, undefined], [1, undefined], [7, [-100, 100]], [256, [0, 1]]]) {
          const want = ref.histogramReference(input, bins, range)
          if (!Number.isFinite(want.edges[bins] - want.edges[0])) {
            // a range wider than the largest float64 has no usable bins: a RangeError
            await assert.rejects(offload.histogram(input, { bins, range }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
            continue
          }
          const got = await offload.histogram(input, { bins, range })
          assertSameValues(got.edges, want.edges, `${Kind.name} n=${n} edges`)
          assertSameValues(got.counts, want.counts, `${Kind.name} n=${n} bins=${bins} counts`)
        }
      }
    }
  })

  it('closes the last bin, skips NaN and out-of-range values, widens a single value', async () => {
    let h = await offload.histogram(new Float64Array([0, 0.5, 1, 1, NaN, 2]), { bins: 2, range: [0, 1] })
    assert.deepEqual(Array.from(h.counts), [1, 3])
    h = await offload.histogram(new Float64Array([5, 5, 5]), { bins: 2 })
    assert.deepEqual(Array.from(h.edges), [4.5, 5, 5.5])
    assert.deepEqual(Array.from(h.counts), [0, 3])
    h = await offload.histogram(new Float64Array([NaN, Infinity]))
    assert.equal(h.edges[0], 0)
    assert.equal(h.edges[10], 1)
    assert.equal(h.counts.reduce((a, b) => a + b), 0)
  })

  it('counts a large array like the reference', async () => {
    const random = ref.rng(23)
    const input = Float64Array.from({ length: 300_000 }, () => (random() - 0.5) * 1000)
    const got = await offload.histogram(input, { bins: 256 })
    const want = ref.histogramReference(input, 256)
    assertSameValues(got.counts, want.counts, 'counts')
  })
})
