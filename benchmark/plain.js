'use strict'

// The best plain-JavaScript way to do each job, as a careful Node developer would write it.
// Used by the benchmarks, the demo, and (through pool-worker.js) the worker-thread pool.

/** Ascending sort, JS order: the built-in. */
function sort(values) {
  return values.slice().sort()
}

/**
 * One pass: count, NaN count, min, max, a Neumaier-compensated sum, and the variance from
 * sums of squares shifted by the first value (stable when the data sits far from zero).
 */
function describe(values, start = 0, end = values.length) {
  let count = 0
  let nanCount = 0
  let min = Infinity
  let max = -Infinity
  let sum = 0
  let comp = 0
  let shift = NaN
  let shifted = 0
  let shiftedSq = 0
  for (let i = start; i < end; i++) {
    const x = values[i]
    if (x !== x) {
      nanCount++
      continue
    }
    if (shift !== shift) shift = x
    count++
    if (x < min) min = x
    if (x > max) max = x
    const t = sum + x
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum
    sum = t
    const d = x - shift
    shifted += d
    shiftedSq += d * d
  }
  return { count, nanCount, min, max, sum, comp, shift, shifted, shiftedSq }
}

/** Merges describe() parts (from worker chunks) and finishes them. */
function finishDescribe(parts, ddof = 0) {
  let count = 0
  let nanCount = 0
  let min = Infinity
  let max = -Infinity
  let sum = 0
  let mean = 0
  let m2 = 0
  for (const p of parts) {
    nanCount += p.nanCount
    if (p.count === 0) continue
    if (p.min < min) min = p.min
    if (p.max > max) max = p.max
    const pSum = p.sum + p.comp
    const pMean = pSum / p.count
    const pM2 = p.shiftedSq - (p.shifted * p.shifted) / p.count
    const n = count + p.count
    const delta = pMean - mean
    m2 += pM2 + (delta * delta * count * p.count) / n
    mean += (delta * p.count) / n
    sum += pSum
    count = n
  }
  if (count === 0) return { count, nanCount, min: NaN, max: NaN, sum: 0, mean: NaN, variance: NaN, stddev: NaN }
  const variance = m2 / Math.max(count - ddof, 0)
  return { count, nanCount, min, max, sum, mean: sum / count, variance, stddev: Math.sqrt(variance) }
}

/** Floyd-Rivest-style quickselect (as in d3-array), in place on a Float64Array. */
function select(a, k, left = 0, right = a.length - 1) {
  while (right > left) {
    const pivot = a[k]
    let i = left
    let j = right
    ;[a[left], a[k]] = [a[k], a[left]]
    if (a[right] > pivot) [a[left], a[right]] = [a[right], a[left]]
    while (i < j) {
      ;[a[i], a[j]] = [a[j], a[i]]
      i++
      j--
      while (a[i] < pivot) i++
      while (a[j] > pivot) j--
    }
    if (a[left] === pivot) [a[left], a[j]] = [a[j], a[left]]
    else {
      j++
      ;[a[j], a[right]] = [a[right], a[j]]
    }
    if (j <= k) left = j + 1
    if (k <= j) right = j - 1
  }
  return a[k]
}

/** numpy linear quantiles by quickselect on a copy of the non-NaN values. */
function quantiles(values, probs) {
  const copy = new Float64Array(values.length)
  let n = 0
  for (let i = 0; i < values.length; i++) if (values[i] === values[i]) copy[n++] = values[i]
  const a = copy.subarray(0, n)
  return Float64Array.from(probs, (p) => {
    if (n === 0) return NaN
    const h = (n - 1) * p
    const i = Math.floor(h)
    const lo = select(a, i)
    const hi = i + 1 < n ? select(a, i + 1, i + 1) : lo
    const t = h - i
    return lo === hi ? lo : t >= 0.5 ? hi - (hi - lo) * (1 - t) : lo + (hi - lo) * t
  })
}

/** Finite min and max, the range a histogram uses when none is given. */
function finiteRange(values, start = 0, end = values.length) {
  let lo = Infinity
  let hi = -Infinity
  for (let i = start; i < end; i++) {
    const x = values[i]
    if (x < lo && x !== -Infinity) lo = x
    if (x > hi && x !== Infinity) hi = x
  }
  return [lo, hi]
}

/** numpy-style edges for `bins` bins over [lo, hi]. */
function edgesFor(lo, hi, bins) {
  if (lo === hi) {
    lo -= 0.5
    hi += 0.5
  }
  const edges = new Float64Array(bins + 1)
  const step = (hi - lo) / bins
  for (let i = 0; i <= bins; i++) edges[i] = i * step + lo
  edges[bins] = hi
  return edges
}

/** Counts values into the bins of `edges` (numpy's rule), 4 interleaved sub-histograms. */
function countBins(values, edges, start = 0, end = values.length) {
  const bins = edges.length - 1
  const lo = edges[0]
  const hi = edges[bins]
  const scale = bins / (hi - lo)
  const sub = new Float64Array(bins * 4)
  for (let i = start; i < end; i++) {
    const x = values[i]
    if (!(x >= lo && x <= hi)) continue
    let b = Math.min(((x - lo) * scale) | 0, bins - 1)
    if (x < edges[b]) b--
    else if (b < bins - 1 && x >= edges[b + 1]) b++
    sub[(i & 3) * bins + b]++
  }
  const counts = new Float64Array(bins)
  for (let s = 0; s < 4; s++) for (let b = 0; b < bins; b++) counts[b] += sub[s * bins + b]
  return counts
}

function histogram(values, bins = 10) {
  const [lo, hi] = finiteRange(values)
  const edges = lo <= hi ? edgesFor(lo, hi, bins) : edgesFor(0, 1, bins)
  return { counts: countBins(values, edges), edges }
}

module.exports = { countBins, describe, edgesFor, finiteRange, finishDescribe, histogram, quantiles, select, sort }
