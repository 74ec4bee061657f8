'use strict'

// Data crunching on numeric typed arrays: argument checks, then one native call each.

const native = require('./native.js')
const { invalidType, invalidValue, outOfRange } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const MAX_BINS = 1 << 20

/** A sorted copy comes back as a Uint8Array for a Buffer: the same bytes, seen as a Buffer. */
function sameKind(result, input) {
  return Buffer.isBuffer(input) ? Buffer.from(result.buffer, result.byteOffset, result.byteLength) : result
}

const sort = operation('sort', (array, options) => {
  v.numericArray(array, 'array')
  const opts = v.options(options, 'options', ['descending', 'inPlace', 'signal', ...v.PROGRESS_OPTIONS])
  const descending = v.boolean(opts.descending, 'options.descending', false)
  const inPlace = v.boolean(opts.inPlace, 'options.inPlace', false)
  const signal = v.signal(opts.signal)
  const progress = v.progress(opts)
  const inline = v.lengthOf(array) <= LIMITS.sort
  if (inPlace) {
    return { signal, progress, inline, start: (token) => native.sortInPlace(array, descending, token).then(() => array) }
  }
  return { signal, progress, inline, start: (token) => native.sortCopy(array, descending, token).then((sorted) => sameKind(sorted, array)) }
})

const argsort = operation('argsort', (array, options) => {
  v.numericArray(array, 'array')
  const opts = v.options(options, 'options', ['descending', 'signal', ...v.PROGRESS_OPTIONS])
  const descending = v.boolean(opts.descending, 'options.descending', false)
  const signal = v.signal(opts.signal)
  const length = v.lengthOf(array)
  if (length > 2 ** 32) {
    throw outOfRange('array.length', 'at most 2 ** 32 (indices are a Uint32Array)', length)
  }
  return { signal, progress: v.progress(opts), inline: length <= LIMITS.argsort, start: (token) => native.argsort(array, descending, token) }
})

const describe = operation('describe', (array, options) => {
  v.numericArray(array, 'array')
  const opts = v.options(options, 'options', ['ddof', 'signal'])
  let ddof = 0
  if (opts.ddof !== undefined) {
    ddof = v.number(opts.ddof, 'options.ddof')
    if (!Number.isFinite(ddof) || ddof < 0) throw outOfRange('options.ddof', 'a finite number >= 0', ddof)
  }
  const signal = v.signal(opts.signal)
  return { signal, inline: v.lengthOf(array) <= LIMITS.describe, start: (token) => native.describe(array, ddof, token) }
})

/** `probs` as a fresh Float64Array of numbers in [0, 1]. */
function probabilities(probs, name = 'probs') {
  const kind = v.typedArrayKind(probs)
  if (!Array.isArray(probs) && kind !== 'Float64Array') {
    throw invalidType(name, 'an Array or Float64Array of numbers', probs)
  }
  if (kind === 'Float64Array' && v.isDetached(probs)) {
    throw invalidValue(name, probs, 'is backed by a detached ArrayBuffer')
  }
  // Copied, each element read once: a Proxy or getter cannot change a value after its check.
  const length = kind === undefined ? probs.length : v.lengthOf(probs)
  if (!Number.isSafeInteger(length) || length > 2 ** 24) {
    throw outOfRange(`${name}.length`, 'at most 2 ** 24', length)
  }
  const out = new Float64Array(length)
  for (let i = 0; i < length; i++) {
    const p = probs[i]
    if (typeof p !== 'number') throw invalidType(`${name}[${i}]`, 'of type number', p)
    if (!(p >= 0 && p <= 1)) throw outOfRange(`${name}[${i}]`, '>= 0 and <= 1', p)
    out[i] = p
  }
  return out
}

const quantiles = operation('quantiles', (array, probs, options) => {
  v.numericArray(array, 'array')
  const ps = probabilities(probs)
  const opts = v.options(options, 'options', ['signal'])
  const signal = v.signal(opts.signal)
  return { signal, start: (token) => native.quantiles(array, ps, token) }
})

const histogram = operation('histogram', (array, options) => {
  v.numericArray(array, 'array')
  const opts = v.options(options, 'options', ['bins', 'range', 'signal'])
  const bins = v.integer(opts.bins, 'options.bins', 1, MAX_BINS, 10)
  let min
  let max
  const range = opts.range
  if (range !== undefined) {
    if (!Array.isArray(range) && v.typedArrayKind(range) !== 'Float64Array') {
      throw invalidType('options.range', 'an Array of two numbers [min, max]', range)
    }
    if (range.length !== 2) throw invalidValue('options.range', range, 'must hold exactly two numbers [min, max]')
    ;[min, max] = [range[0], range[1]]
    for (const [i, x] of [min, max].entries()) {
      if (typeof x !== 'number') throw invalidType(`options.range[${i}]`, 'of type number', x)
      if (!Number.isFinite(x)) throw outOfRange(`options.range[${i}]`, 'a finite number', x)
    }
    if (min > max) throw invalidValue('options.range', range, 'must have min <= max')
  }
  const signal = v.signal(opts.signal)
  const inline = v.lengthOf(array) <= LIMITS.histogram && bins <= 4096
  return { signal, inline, start: (token) => native.histogram(array, bins, min, max, token) }
})

const AGGREGATIONS = ['count', 'sum', 'mean', 'min', 'max', 'std']
const INTEGER_KEYS = new Set(['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'])

/** `keys`: a category column ({ codes, values }) or an integer typed array. */
function groupKeys(keys) {
  const kind = v.typedArrayKind(keys)
  if (kind !== undefined) {
    if (!INTEGER_KEYS.has(kind)) throw invalidType('keys', 'a category column ({ codes, values }) or an integer TypedArray', keys)
    v.numericArray(keys, 'keys')
    return { codes: keys, categories: undefined, length: v.lengthOf(keys) }
  }
  if (keys === null || typeof keys !== 'object' || v.typedArrayKind(keys.codes) !== 'Uint32Array' || !Array.isArray(keys.values)) {
    throw invalidType('keys', 'a category column ({ codes: Uint32Array, values: string[] }) or an integer TypedArray', keys)
  }
  v.numericArray(keys.codes, 'keys.codes')
  return { codes: keys.codes, categories: keys.values.length, values: keys.values, length: v.lengthOf(keys.codes) }
}

const groupBy = operation('groupBy', (keys, values, options) => {
  const k = groupKeys(keys)
  let names
  let arrays
  if (v.typedArrayKind(values) !== undefined) {
    names = ['value']
    arrays = [values]
  } else if (values !== null && typeof values === 'object' && !Array.isArray(values)) {
    names = Object.keys(values)
    arrays = names.map((name) => values[name])
    if (names.length === 0) throw invalidValue('values', values, 'must name at least one column')
  } else {
    throw invalidType('values', 'a numeric TypedArray or an object of them (column name to array)', values)
  }
  arrays.forEach((array, i) => {
    const label = names[i] === 'value' && arrays.length === 1 && v.typedArrayKind(values) !== undefined ? 'values' : `values[${JSON.stringify(names[i])}]`
    v.numericArray(array, label)
    if (v.lengthOf(array) !== k.length) throw invalidValue(label, array, `must have the keys' length (${k.length}), not ${v.lengthOf(array)}`)
  })
  const opts = v.options(options, 'options', ['aggregations', 'quantiles', 'ddof', 'signal', ...v.PROGRESS_OPTIONS])
  let aggregations = ['count', 'mean']
  if (opts.aggregations !== undefined) {
    if (!Array.isArray(opts.aggregations)) throw invalidType('options.aggregations', 'an instance of Array', opts.aggregations)
    aggregations = opts.aggregations.map((a, i) => {
      if (typeof a !== 'string') throw invalidType(`options.aggregations[${i}]`, 'of type string', a)
      if (!AGGREGATIONS.includes(a)) throw invalidValue(`options.aggregations[${i}]`, a, `must be one of ${AGGREGATIONS.join(', ')} (quantiles go in options.quantiles)`)
      return a
    })
  }
  const qs = opts.quantiles === undefined ? [] : Array.from(probabilities(opts.quantiles, 'options.quantiles'))
  if (aggregations.length === 0 && qs.length === 0) throw invalidValue('options.aggregations', opts.aggregations, 'must name at least one aggregation (or give options.quantiles)')
  let ddof = 1
  if (opts.ddof !== undefined) {
    ddof = v.number(opts.ddof, 'options.ddof')
    if (!Number.isFinite(ddof) || ddof < 0) throw outOfRange('options.ddof', 'a finite number >= 0', ddof)
  }
  const spec = { quantiles: qs, ddof }
  for (const a of AGGREGATIONS) spec[a] = aggregations.includes(a)
  const finish = (r) => {
    const groups = r.firstRow.length
    let out
    if (k.values !== undefined) {
      out = new Array(groups)
      for (let g = 0; g < groups; g++) out[g] = k.values[k.codes[r.firstRow[g]]]
    } else {
      out = new k.codes.constructor(groups)
      for (let g = 0; g < groups; g++) out[g] = k.codes[r.firstRow[g]]
    }
    // Object.fromEntries defines each name as an own property (a column named __proto__ too).
    const columns = Object.fromEntries(names.map((name, i) => {
      const c = r.columns[i]
      const stats = {}
      for (const a of AGGREGATIONS) if (spec[a]) stats[a] = c[a]
      if (qs.length > 0) stats.quantiles = c.quantiles
      return [name, stats]
    }))
    return { groups, keys: out, size: r.size, columns }
  }
  const signal = v.signal(opts.signal)
  return { signal, progress: v.progress(opts), start: (token) => native.groupBy(k.codes, k.categories, arrays, spec, token).then(finish) }
})

module.exports = { argsort, describe, groupBy, histogram, quantiles, sort }
