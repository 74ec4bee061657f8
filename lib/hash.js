'use strict'

// Hashing: buffers, batches and files. Inputs become a Uint8Array over the same bytes (strings
// are encoded as UTF-8), the native side returns the digests as bytes, and they are encoded here.

const native = require('./native.js')
const { invalidType, invalidValue } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { operation } = require('./scheduler.js')
const { chunkBytes, streamStep } = require('./stream.js')
const { AbortError } = require('./errors.js')
const v = require('./validate.js')

/** Digest length in bytes, by algorithm. */
const DIGEST_BYTES = { blake3: 32, sha256: 32, sha512: 64, 'xxh3-64': 8, 'xxh3-128': 16 }
const ENCODINGS = ['hex', 'base64', 'base64url', 'buffer']
function hashOptions(options) {
  const opts = v.options(options, 'options', ['algorithm', 'encoding', 'signal', ...v.PROGRESS_OPTIONS])
  const algorithm = opts.algorithm === undefined ? 'blake3' : opts.algorithm
  if (typeof algorithm !== 'string') throw invalidType('options.algorithm', 'of type string', algorithm)
  if (!Object.hasOwn(DIGEST_BYTES, algorithm)) {
    throw invalidValue('options.algorithm', algorithm, `must be one of ${Object.keys(DIGEST_BYTES).join(', ')}`)
  }
  const encoding = opts.encoding === undefined ? 'hex' : opts.encoding
  if (typeof encoding !== 'string') throw invalidType('options.encoding', 'of type string', encoding)
  if (!ENCODINGS.includes(encoding)) {
    throw invalidValue('options.encoding', encoding, `must be one of ${ENCODINGS.join(', ')}`)
  }
  return { algorithm, encoding, signal: v.signal(opts.signal), progress: v.progress(opts) }
}

function encode(bytes, encoding) {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return encoding === 'buffer' ? Buffer.from(buffer) : buffer.toString(encoding)
}

function encodeEach(all, algorithm, encoding) {
  const size = DIGEST_BYTES[algorithm]
  return Array.from({ length: all.byteLength / size }, (_, i) => encode(all.subarray(i * size, (i + 1) * size), encoding))
}

function list(value, name) {
  if (!Array.isArray(value)) throw invalidType(name, 'an instance of Array', value)
  return value
}

const hash = operation('hash', (input, options) => {
  const bytes = v.bytesOf(input, 'input')
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  const inline = bytes.byteLength <= LIMITS.hash[algorithm]
  return { signal, progress, inline, start: async (token) => encode(await native.hashBytes(bytes, algorithm, token), encoding) }
})

const hashMany = operation('hashMany', (inputs, options) => {
  const views = list(inputs, 'inputs').map((input, i) => v.bytesOf(input, `inputs[${i}]`))
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  const inline = views.length <= 1 && (views.length === 0 || views[0].byteLength <= LIMITS.hash[algorithm])
  return { signal, progress, inline, start: async (token) => encodeEach(await native.hashMany(views, algorithm, token), algorithm, encoding) }
})

const hashFile = operation('hashFile', (path, options) => {
  const p = v.pathOf(path, 'path')
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  return { signal, progress, start: async (token) => encode(await native.hashFiles([p], algorithm, token), encoding) }
})

const hashFiles = operation('hashFiles', (paths, options) => {
  const ps = list(paths, 'paths').map((p, i) => v.pathOf(p, `paths[${i}]`))
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  return { signal, progress, start: async (token) => encodeEach(await native.hashFiles(ps, algorithm, token), algorithm, encoding) }
})

/** Gathered input past which hashStream stops reading until the running update ends. */
const STREAM_BATCH = 8 << 20

/**
 * The digest of everything `readable` (a Readable or any async iterable of strings and byte
 * chunks) yields, hashed off the main thread while it arrives: chunks gather while one native
 * update runs, and the next update takes them all.
 */
async function hashStream(readable, options) {
  if (readable === null || typeof readable !== 'object' || typeof readable[Symbol.asyncIterator] !== 'function') {
    throw invalidType('readable', 'a Readable stream or an async iterable', readable)
  }
  const { algorithm, encoding, signal } = hashOptions(options)
  if (options?.onProgress !== undefined) {
    throw invalidValue('options.onProgress', options.onProgress, 'is not supported by hashStream (count the chunks as they arrive)')
  }
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason })
  const state = new native.HashState(algorithm)
  const controller = new AbortController()
  const onAbort = () => {
    controller.abort(signal.reason)
    // A Readable waiting for data is woken by being destroyed; the loop below then throws.
    if (typeof readable.destroy === 'function') readable.destroy(new AbortError(undefined, { cause: signal.reason }))
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  let pending = []
  let pendingBytes = 0
  let running = null
  let failure = null
  const update = () => {
    const chunks = pending
    pending = []
    pendingBytes = 0
    running = streamStep((token) => state.update(chunks, token), controller.signal).then(
      () => { running = null },
      (error) => { running = null; failure ??= error },
    )
  }
  try {
    for await (const chunk of readable) {
      if (failure !== null) throw failure
      if (controller.signal.aborted) throw new AbortError(undefined, { cause: signal.reason })
      const bytes = chunkBytes(chunk, 'utf8')
      if (bytes.byteLength === 0) continue
      pending.push(bytes)
      pendingBytes += bytes.byteLength
      if (running === null) update()
      else if (pendingBytes >= STREAM_BATCH) await running // backpressure: stop reading
    }
    while (running !== null) await running
    if (failure !== null) throw failure
    if (controller.signal.aborted) throw new AbortError(undefined, { cause: signal.reason })
    if (pending.length > 0) {
      update()
      await running
      if (failure !== null) throw failure
    }
    return encode(state.digest(), encoding)
  } catch (error) {
    controller.abort(error)
    if (signal?.aborted && !(error instanceof AbortError)) throw new AbortError(undefined, { cause: signal.reason })
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

module.exports = { hash, hashFile, hashFiles, hashMany, hashStream }
