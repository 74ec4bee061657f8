'use strict'

// Compression: buffers, files and streams in gzip, deflate (zlib), raw deflate, zstd and
// brotli. Options are checked here; the native side compresses on the pool (see
// src/compress/mod.rs for the backends and why).

const native = require('./native.js')
const { invalidType, invalidValue, outOfRange } = require('./errors.js')
const { operation } = require('./scheduler.js')
const { NativeTransform, asBuffer, constructing } = require('./stream.js')
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
/**
 * Input a stream's writable side holds before its writer waits. The chunks a step reads count
 * until its callback, so the writer can gather the next batch meanwhile only below this mark:
 * 16 MiB lets a compressing stream keep about 8 MiB in flight and 8 MiB gathering (measured:
 * 1.4x zlib.createGzip() at 4 MiB, 1.7x at 8, 1.9x at 16, on 64 KiB chunks, 2 cores).
 */
const COMPRESS_BATCH = 16 << 20
const DECOMPRESS_BATCH = 1 << 20
/** Output one decompressing stream step makes at most, before it looks at its consumer again. */
const DECOMPRESS_STEP = 1 << 20

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

/**
 * The output limit. A Buffer result is bounded like node:zlib's (as much as one Buffer may
 * hold, and the per-buffer maxAllocation of configure()), so that a bomb is refused long before
 * memory runs out; files and streams write as they decode, in bounded memory, so they have no
 * limit unless the caller sets one (any safe integer).
 */
function maxOutput(value, bounded) {
  const cap = bounded ? v.MAX_RESULT_LENGTH : Number.MAX_SAFE_INTEGER
  if (value === undefined) return bounded ? Math.min(native.maxAllocation(), cap) : Number.MAX_SAFE_INTEGER
  v.number(value, 'options.maxOutputLength')
  if (!Number.isSafeInteger(value) || value < 1 || value > cap) {
    throw outOfRange('options.maxOutputLength', `an integer >= 1 and <= ${cap}`, value)
  }
  return value
}

function decompressOptions(options, extra = [], bounded = true) {
  const opts = v.options(options, 'options', ['format', 'maxOutputLength', 'signal', ...v.PROGRESS_OPTIONS, ...extra])
  return {
    opts,
    format: format(opts.format, 'options.format', true),
    maxOutputLength: maxOutput(opts.maxOutputLength, bounded),
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
  }
}

const compress = operation('compress', (input, options) => {
  const source = v.sourceOf(input, 'input')
  const { format: fmt, level, signal, progress } = compressOptions(options)
  return {
    signal,
    progress,
    load: v.loadSources([source], signal),
    start: async (token, [bytes] = [source]) => asBuffer(await native.compressBytes(bytes, fmt, level, token)),
  }
})

const decompress = operation('decompress', (input, options) => {
  const source = v.sourceOf(input, 'input')
  const { format: fmt, maxOutputLength, signal, progress } = decompressOptions(options)
  return {
    signal,
    progress,
    load: v.loadSources([source], signal),
    start: async (token, [bytes] = [source]) => asBuffer(await native.decompressBytes(bytes, fmt, maxOutputLength, token)),
  }
})

const compressFile = operation('compressFile', (source, destination, options) => {
  const from = v.pathOf(source, 'source')
  const to = v.pathOf(destination, 'destination')
  const { format: fmt, level, signal, progress } = compressOptions(options)
  // An abort settles once the kernel has stopped and removed its temporary file.
  return { signal, progress, settleAfterStop: true, start: (token) => native.compressFile(from, to, fmt, level, token) }
})

const decompressFile = operation('decompressFile', (source, destination, options) => {
  const from = v.pathOf(source, 'source')
  const to = v.pathOf(destination, 'destination')
  const { format: fmt, maxOutputLength, signal, progress } = decompressOptions(options, [], false)
  return { signal, progress, settleAfterStop: true, start: (token) => native.decompressFile(from, to, fmt, maxOutputLength, token) }
})

/** Options a stream passes on to its Transform. */
const STREAM_OPTIONS = ['highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark']

function streamOptions(opts) {
  const out = {}
  for (const key of STREAM_OPTIONS) if (opts[key] !== undefined) out[key] = opts[key]
  return out
}

function streamOf(opts, coder, batchBytes, outputStep) {
  return new NativeTransform({
    // The writable side's buffer is the batch handed to one native step.
    writableHighWaterMark: opts.highWaterMark ?? batchBytes,
    ...streamOptions(opts),
    signal: v.signal(opts.signal),
    outputStep,
    write: (chunks, finish, budget, token) => coder.write(chunks, finish, budget, token),
  })
}

function noProgress(opts) {
  if (opts.onProgress !== undefined) throw invalidValue('options.onProgress', opts.onProgress, 'is not supported by streams (count the bytes in a Transform before it)')
}

/** A Transform that compresses, for stream.pipeline() where zlib.createGzip() goes. */
function createCompressStream(options) {
  return constructing(() => {
    const { opts, format: fmt, level } = compressOptions(options, STREAM_OPTIONS)
    noProgress(opts)
    v.signal(opts.signal)
    return streamOf(opts, new native.StreamCoder('compress', fmt, level, 0), COMPRESS_BATCH, Infinity)
  })
}

/** A Transform that decompresses, for stream.pipeline() where zlib.createGunzip() goes. */
function createDecompressStream(options) {
  return constructing(() => {
    const { opts, format: fmt, maxOutputLength } = decompressOptions(options, STREAM_OPTIONS, false)
    noProgress(opts)
    v.signal(opts.signal)
    const coder = new native.StreamCoder('decompress', fmt, null, maxOutputLength)
    return streamOf(opts, coder, DECOMPRESS_BATCH, DECOMPRESS_STEP)
  })
}

module.exports = { FORMATS, compress, compressFile, createCompressStream, createDecompressStream, decompress, decompressFile }
