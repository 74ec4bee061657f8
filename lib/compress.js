'use strict'

// Compression: buffers, files and streams in gzip, deflate (zlib), raw deflate, zstd and
// brotli. Options are checked here; the native side compresses on the pool (see
// src/compress/mod.rs for the backends and why).

const native = require('./native.js')
const { invalidType, invalidValue, outOfRange } = require('./errors.js')
const { operation } = require('./scheduler.js')
const { NativeTransform, asBuffer } = require('./stream.js')
const v = require('./validate.js')

const FORMATS = ['gzip', 'deflate', 'deflate-raw', 'zstd', 'brotli']
/** Accepted levels per format (node:zlib's for gzip, deflate and brotli; zstd's CLI range). */
const LEVELS = {
  gzip: [-1, 9],
  deflate: [-1, 9],
  'deflate-raw': [-1, 9],
  zstd: [1, 19],
  brotli: [0, 11],
}
/** Input gathered by a stream before its writer waits: a few blocks per core. */
const COMPRESS_BATCH = 4 << 20
const DECOMPRESS_BATCH = 1 << 20

function format(value, name, allowAuto) {
  const known = allowAuto ? [...FORMATS, 'auto'] : FORMATS
  if (value === undefined) return 'gzip'
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value)
  if (!known.includes(value)) throw invalidValue(name, value, `must be one of ${known.join(', ')}`)
  return value
}

function compressOptions(options, extra = []) {
  const opts = v.options(options, 'options', ['format', 'level', 'signal', ...v.PROGRESS_OPTIONS, ...extra])
  const fmt = format(opts.format, 'options.format', false)
  let level = null
  if (opts.level !== undefined) {
    const [lo, hi] = LEVELS[fmt]
    level = v.integer(opts.level, 'options.level', lo, hi)
  }
  return { opts, format: fmt, level, signal: v.signal(opts.signal), progress: v.progress(opts) }
}

function maxOutput(value) {
  // node:zlib's default: as much as one Buffer may hold; here also the per-buffer
  // maxAllocation (configure()), so that a bomb is refused long before memory runs out.
  const limit = Math.min(native.maxAllocation(), v.MAX_RESULT_LENGTH)
  if (value === undefined) return limit
  v.number(value, 'options.maxOutputLength')
  if (!Number.isSafeInteger(value) || value < 1 || value > v.MAX_RESULT_LENGTH) {
    throw outOfRange('options.maxOutputLength', `an integer >= 1 and <= ${v.MAX_RESULT_LENGTH}`, value)
  }
  return value
}

function decompressOptions(options, extra = []) {
  const opts = v.options(options, 'options', ['format', 'maxOutputLength', 'signal', ...v.PROGRESS_OPTIONS, ...extra])
  return {
    opts,
    format: format(opts.format, 'options.format', true),
    maxOutputLength: maxOutput(opts.maxOutputLength),
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
  }
}

const compress = operation('compress', (input, options) => {
  const bytes = v.bytesOf(input, 'input')
  const { format: fmt, level, signal, progress } = compressOptions(options)
  return { signal, progress, start: async (token) => asBuffer(await native.compressBytes(bytes, fmt, level, token)) }
})

const decompress = operation('decompress', (input, options) => {
  const bytes = v.bytesOf(input, 'input')
  const { format: fmt, maxOutputLength, signal, progress } = decompressOptions(options)
  return {
    signal,
    progress,
    start: async (token) => asBuffer(await native.decompressBytes(bytes, fmt, maxOutputLength, token)),
  }
})

const compressFile = operation('compressFile', (source, destination, options) => {
  const from = v.pathOf(source, 'source')
  const to = v.pathOf(destination, 'destination')
  const { format: fmt, level, signal, progress } = compressOptions(options)
  return { signal, progress, start: (token) => native.compressFile(from, to, fmt, level, token) }
})

const decompressFile = operation('decompressFile', (source, destination, options) => {
  const from = v.pathOf(source, 'source')
  const to = v.pathOf(destination, 'destination')
  const { format: fmt, maxOutputLength, signal, progress } = decompressOptions(options)
  return { signal, progress, start: (token) => native.decompressFile(from, to, fmt, maxOutputLength, token) }
})

/** Options a stream passes on to its Transform. */
const STREAM_OPTIONS = ['highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark']

function streamOptions(opts) {
  const out = {}
  for (const key of STREAM_OPTIONS) if (opts[key] !== undefined) out[key] = opts[key]
  return out
}

/** A Transform that compresses, for stream.pipeline() where zlib.createGzip() goes. */
function createCompressStream(options) {
  const { opts, format: fmt, level } = compressOptions(options, STREAM_OPTIONS)
  if (opts.onProgress !== undefined) throw invalidValue('options.onProgress', opts.onProgress, 'is not supported by streams (count the bytes in a Transform before it)')
  const coder = new native.StreamCoder('compress', fmt, level, 0)
  return new NativeTransform({
    ...streamOptions(opts),
    signal: v.signal(opts.signal),
    batchBytes: COMPRESS_BATCH,
    write: (chunks, finish, token) => coder.write(chunks, finish, token),
  })
}

/** A Transform that decompresses, for stream.pipeline() where zlib.createGunzip() goes. */
function createDecompressStream(options) {
  const { opts, format: fmt, maxOutputLength } = decompressOptions(options, STREAM_OPTIONS)
  if (opts.onProgress !== undefined) throw invalidValue('options.onProgress', opts.onProgress, 'is not supported by streams (count the bytes in a Transform before it)')
  const coder = new native.StreamCoder('decompress', fmt, null, maxOutputLength)
  return new NativeTransform({
    ...streamOptions(opts),
    signal: v.signal(opts.signal),
    batchBytes: DECOMPRESS_BATCH,
    write: (chunks, finish, token) => coder.write(chunks, finish, token),
  })
}

module.exports = { FORMATS, compress, compressFile, createCompressStream, createDecompressStream, decompress, decompressFile }
