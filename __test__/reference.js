'use strict'

// Independent plain-JS references, written from the definitions (numpy's and JS's), not from
// the Rust code. Deliberately simple and slow.

/** JS's TypedArray sort order: NaN last, -0 before +0. */
function jsCompare(a, b) {
  const an = Number.isNaN(a)
  const bn = Number.isNaN(b)
  if (an || bn) return an === bn ? 0 : an ? 1 : -1
  if (a < b) return -1
  if (a > b) return 1
  if (a === 0 && b === 0) return Object.is(a, -0) === Object.is(b, -0) ? 0 : Object.is(a, -0) ? -1 : 1
  return 0
}

/** The same order reversed for numbers, NaN still last. */
function jsCompareDescending(a, b) {
  const an = Number.isNaN(a)
  const bn = Number.isNaN(b)
  if (an || bn) return jsCompare(a, b)
  return jsCompare(b, a)
}

function sortReference(array, descending) {
  const copy = array.slice().sort() // the built-in, ascending
  if (!descending) return copy
  const values = Array.from(array)
  values.sort(jsCompareDescending)
  return new array.constructor(values)
}

function argsortReference(array, descending) {
  const index = Array.from({ length: array.length }, (_, i) => i)
  const cmp = descending ? jsCompareDescending : jsCompare
  index.sort((i, j) => cmp(Number(array[i]), Number(array[j]))) // Array#sort is stable
  return Uint32Array.from(index)
}

function numbers(array) {
  return Array.from(array, Number)
}

/** numpy-style description: Neumaier sum, two-pass variance. */
function describeReference(array, ddof = 0) {
  const all = numbers(array)
  const values = all.filter((x) => !Number.isNaN(x))
  const count = values.length
  const nanCount = all.length - count
  if (count === 0) {
    return { count: 0, nanCount, min: NaN, max: NaN, sum: 0, mean: NaN, variance: NaN, stddev: NaN }
  }
  let sum = 0
  let comp = 0
  for (const x of values) {
    const t = sum + x
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum
    sum = t
  }
  if (Number.isFinite(sum)) sum += comp
  const mean = sum / count
  let m2 = 0
  for (const x of values) m2 += (x - mean) ** 2
  const variance = Number.isFinite(mean) ? m2 / Math.max(count - ddof, 0) : NaN
  let min = Infinity
  let max = -Infinity
  for (const x of values) {
    if (x < min) min = x
    if (x > max) max = x
  }
  return { count, nanCount, min, max, sum, mean, variance, stddev: Math.sqrt(variance) }
}

/** numpy.quantile(method='linear'): sort, h = (n - 1) p, interpolate with numpy's _lerp. */
function quantilesReference(array, probs) {
  const values = Float64Array.from(numbers(array).filter((x) => !Number.isNaN(x))).sort()
  const n = values.length
  return Float64Array.from(probs, (p) => {
    if (n === 0) return NaN
    const h = (n - 1) * p
    const i = Math.floor(h)
    const a = values[i]
    const b = values[Math.min(i + 1, n - 1)]
    const t = h - i
    if (a === b) return a
    const diff = b - a
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
  })
}

/** numpy.histogram with equal-width bins: edges from linspace, bins found by scanning edges. */
function histogramReference(array, bins = 10, range) {
  const values = numbers(array)
  let lo
  let hi
  if (range) {
    ;[lo, hi] = range
  } else {
    const finite = values.filter(Number.isFinite)
    lo = finite.length ? finite[0] : 0
    hi = finite.length ? finite[0] : 1
    for (const x of finite) {
      if (x < lo) lo = x
      if (x > hi) hi = x
    }
  }
  if (lo === hi) {
    lo -= 0.5
    hi += 0.5
  }
  const delta = hi - lo
  const step = delta / bins
  const edges = new Float64Array(bins + 1)
  for (let i = 0; i <= bins; i++) edges[i] = step === 0 ? (i / bins) * delta + lo : i * step + lo
  edges[bins] = hi
  const counts = new Float64Array(bins)
  for (const x of values) {
    if (!(x >= lo && x <= hi)) continue
    for (let i = 0; i < bins; i++) {
      if (edges[i] <= x && (x < edges[i + 1] || (i === bins - 1 && x === edges[bins]))) {
        counts[i]++
        break
      }
    }
  }
  return { counts, edges }
}

/** Deterministic pseudo-random numbers (xorshift), so failures reproduce. */
function rng(seed = 1) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

const KINDS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
]

/** A random array of `Kind`, with the kind's edge values mixed in. */
function randomArray(Kind, n, random) {
  const out = new Kind(n)
  const big = Kind === BigInt64Array || Kind === BigUint64Array
  const float = Kind === Float32Array || Kind === Float64Array
  const specials = float
    ? [NaN, -0, 0, Infinity, -Infinity, 1e-310, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE]
    : big
      ? Kind === BigInt64Array
        ? [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]
        : [0n, 2n ** 64n - 1n, 1n]
      : [0, -1, 1, 2 ** 31, -(2 ** 31), 255, -128]
  for (let i = 0; i < n; i++) {
    const r = random()
    if (r < 0.05) {
      out[i] = specials[Math.floor(random() * specials.length)]
    } else if (big) {
      out[i] = BigInt(Math.floor((random() - 0.3) * 2 ** 53)) * BigInt(1 + Math.floor(random() * 1000))
    } else if (float) {
      out[i] = (random() - 0.5) * 10 ** Math.floor(random() * 12)
    } else {
      out[i] = Math.floor((random() - 0.5) * 2 ** 33) // wraps into the kind's range
    }
  }
  if (!float && !big) {
    // a run of repeats, for ties
    for (let i = 0; i < n / 10; i++) out[Math.floor(random() * n)] = out[0]
  }
  return out
}

/** Pillow's convert('L'): the Rec. 601 weights in 16-bit fixed point. */
const luma = (r, g, b) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16

/** Resolves once no offload call is running or queued (aborted native tasks end a bit later). */
async function idle(offload, limitMs = 20_000) {
  const deadline = Date.now() + limitMs
  while (Date.now() < deadline) {
    const { running, queued } = offload.stats()
    if (running === 0 && queued === 0) return
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error('offload did not become idle')
}

module.exports = {
  KINDS,
  idle,
  luma,
  argsortReference,
  describeReference,
  histogramReference,
  jsCompare,
  quantilesReference,
  randomArray,
  rng,
  sortReference,
}
