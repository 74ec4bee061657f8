'use strict'

// Intensive algorithms: prime counting and listing, matrix multiply, the Mandelbrot set.

const native = require('./native.js')
const { invalidType, invalidValue, outOfRange } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const MAX_PRIMES_N = 2 ** 32 - 1
/** Largest image: 2^31 pixels (8 GiB of counts) is far past any real use. */
const MAX_PIXELS = 2 ** 31

/** A non-negative integer given as a number or a bigint, up to `max`. */
function count(value, name, max) {
  if (typeof value === 'bigint') {
    if (value < 0n || value > BigInt(max)) throw outOfRange(name, `>= 0 and <= ${max}`, value)
    return Number(value)
  }
  if (typeof value !== 'number') throw invalidType(name, 'of type number or bigint', value)
  if (!Number.isInteger(value) || value < 0 || value > max) throw outOfRange(name, `an integer >= 0 and <= ${max}`, value)
  return value
}

/** `{ signal, progress }` of an options object that takes nothing else. */
function signalAndProgress(options) {
  const opts = v.options(options, 'options', ['signal', ...v.PROGRESS_OPTIONS])
  return { signal: v.signal(opts.signal), progress: v.progress(opts) }
}

const countPrimes = operation('countPrimes', (n, options) => {
  const limit = count(n, 'n', Number.MAX_SAFE_INTEGER)
  return { ...signalAndProgress(options), start: (token) => native.countPrimes(limit, token) }
})

const primes = operation('primes', (n, options) => {
  const limit = count(n, 'n', MAX_PRIMES_N)
  return { ...signalAndProgress(options), start: (token) => native.primes(limit, token) }
})

/** `{ data, rows, cols }` with data a Float64Array or Float32Array of rows * cols elements. */
function matrix(value, name) {
  if (value === null || typeof value !== 'object') throw invalidType(name, 'an object { data, rows, cols }', value)
  const { data, rows, cols } = value
  const kind = v.typedArrayKind(data)
  if (kind !== 'Float64Array' && kind !== 'Float32Array') {
    throw invalidType(`${name}.data`, 'an instance of Float64Array or Float32Array', data)
  }
  v.heldView(data, `${name}.data`)
  v.integer(rows, `${name}.rows`, 0, 2 ** 32 - 1)
  v.integer(cols, `${name}.cols`, 0, 2 ** 32 - 1)
  const length = v.lengthOf(data)
  if (rows * cols !== length) {
    throw outOfRange(`${name}.data.length`, `${name}.rows * ${name}.cols = ${rows * cols}`, length)
  }
  return { data, rows, cols, kind }
}

const matmul = operation('matmul', (a, b, options) => {
  const lhs = matrix(a, 'a')
  const rhs = matrix(b, 'b')
  if (lhs.kind !== rhs.kind) {
    throw invalidValue('b.data', rhs.data, `must be of the same kind as a.data (${lhs.kind}), not ${rhs.kind}`)
  }
  if (lhs.cols !== rhs.rows) throw outOfRange('b.rows', `equal to a.cols (${lhs.cols})`, rhs.rows)
  if (lhs.rows * rhs.cols > v.MAX_RESULT_LENGTH) {
    throw outOfRange('a.rows * b.cols', `at most ${v.MAX_RESULT_LENGTH} (the longest typed array)`, lhs.rows * rhs.cols)
  }
  const { signal, progress } = signalAndProgress(options)
  const run = lhs.kind === 'Float64Array' ? native.matmulF64 : native.matmulF32
  return {
    signal,
    progress,
    inline: lhs.rows * lhs.cols * rhs.cols <= LIMITS.matmul,
    start: async (token) => ({ data: await run(lhs.data, rhs.data, lhs.rows, lhs.cols, rhs.cols, token), rows: lhs.rows, cols: rhs.cols }),
  }
})

function finite(value, name, fallback) {
  if (value === undefined) return fallback
  v.number(value, name)
  if (!Number.isFinite(value)) throw outOfRange(name, 'a finite number', value)
  return value
}

const mandelbrot = operation('mandelbrot', (options) => {
  const opts = v.options(options, 'options', ['width', 'height', 'centerX', 'centerY', 'scale', 'maxIterations', 'signal', ...v.PROGRESS_OPTIONS])
  // Each option is read once: a getter cannot hand one value to a check and another to the call.
  const { width: w, height: h } = opts
  if (w === undefined || h === undefined) {
    throw invalidType(w === undefined ? 'options.width' : 'options.height', 'of type number', undefined)
  }
  const width = v.integer(w, 'options.width', 1, 2 ** 31)
  const height = v.integer(h, 'options.height', 1, 2 ** 31)
  const pixels = Math.min(MAX_PIXELS, v.MAX_RESULT_LENGTH)
  if (width * height > pixels) throw outOfRange('options.width * options.height', `at most ${pixels}`, width * height)
  const centerX = finite(opts.centerX, 'options.centerX', -0.5)
  const centerY = finite(opts.centerY, 'options.centerY', 0)
  const scale = finite(opts.scale, 'options.scale', 3)
  if (!(scale > 0)) throw outOfRange('options.scale', 'a finite number > 0', scale)
  const maxIterations = v.integer(opts.maxIterations, 'options.maxIterations', 1, 2 ** 32 - 1, 1000)
  const signal = v.signal(opts.signal)
  return { signal, progress: v.progress(opts), start: (token) => native.mandelbrot(width, height, centerX, centerY, scale, maxIterations, token) }
})

const METRICS = ['cosine', 'dot', 'l2']

const topK = operation('topK', (vectors, queries, k, options) => {
  const stored = matrix(vectors, 'vectors')
  let q
  if (ArrayBuffer.isView(queries) && !(queries instanceof DataView)) {
    // One query: a typed array of length cols.
    const kind = v.typedArrayKind(queries)
    if (kind !== 'Float64Array' && kind !== 'Float32Array') {
      throw invalidType('queries', 'an instance of Float64Array or Float32Array, or an object { data, rows, cols }', queries)
    }
    v.heldView(queries, 'queries')
    const length = v.lengthOf(queries)
    if (length !== stored.cols) throw outOfRange('queries.length', `vectors.cols (${stored.cols})`, length)
    q = { data: queries, rows: 1, cols: length, kind }
  } else {
    q = matrix(queries, 'queries')
    if (q.cols !== stored.cols) throw outOfRange('queries.cols', `equal to vectors.cols (${stored.cols})`, q.cols)
  }
  if (q.kind !== stored.kind) {
    throw invalidValue('queries', q.data, `must be of the same kind as vectors.data (${stored.kind}), not ${q.kind}`)
  }
  const count = v.integer(k, 'k', 1, 2 ** 32 - 1)
  const opts = v.options(options, 'options', ['metric', 'signal', ...v.PROGRESS_OPTIONS])
  const metric = opts.metric === undefined ? 'cosine' : opts.metric
  if (typeof metric !== 'string') throw invalidType('options.metric', 'of type string', metric)
  if (!METRICS.includes(metric)) throw invalidValue('options.metric', metric, `must be one of ${METRICS.join(', ')}`)
  const perQuery = Math.min(count, stored.rows)
  if (perQuery * q.rows > v.MAX_RESULT_LENGTH) {
    throw outOfRange('k * queries.rows', `at most ${v.MAX_RESULT_LENGTH} (the longest typed array)`, perQuery * q.rows)
  }
  const run = stored.kind === 'Float64Array' ? native.topKF64 : native.topKF32
  return {
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
    start: (token) => run(stored.data, q.data, stored.rows, stored.cols, q.rows, count, metric, token),
  }
})

module.exports = { countPrimes, mandelbrot, matmul, primes, topK }
