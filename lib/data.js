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
function probabilities(probs) {
  const kind = v.typedArrayKind(probs)
  if (!Array.isArray(probs) && kind !== 'Float64Array') {
    throw invalidType('probs', 'an Array or Float64Array of numbers', probs)
  }
  if (kind === 'Float64Array' && v.isDetached(probs)) {
    throw invalidValue('probs', probs, 'is backed by a detached ArrayBuffer')
  }
  // Copied, each element read once: a Proxy or getter cannot change a value after its check.
  const length = kind === undefined ? probs.length : v.lengthOf(probs)
  if (!Number.isSafeInteger(length) || length > 2 ** 24) {
    throw outOfRange('probs.length', 'at most 2 ** 24', length)
  }
  const out = new Float64Array(length)
  for (let i = 0; i < length; i++) {
    const p = probs[i]
    if (typeof p !== 'number') throw invalidType(`probs[${i}]`, 'of type number', p)
    if (!(p >= 0 && p <= 1)) throw outOfRange(`probs[${i}]`, '>= 0 and <= 1', p)
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

module.exports = { argsort, describe, histogram, quantiles, sort }
