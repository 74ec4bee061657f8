'use strict'

// Hashing: buffers, batches and files. Inputs become a Uint8Array over the same bytes (strings
// are encoded as UTF-8), the native side returns the digests as bytes, and they are encoded here.

const native = require('./native.js')
const { invalidType, invalidValue } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { countArgumentError, longCall, operation, step } = require('./scheduler.js')
const { chunkBytes, heldChunk } = require('./stream.js')
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
  const source = v.sourceOf(input, 'input')
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  if (v.isLongText(source) && progress === undefined) {
    // Each part hashed while the next is encoded. (With onProgress the text is encoded first,
    // so that one native call counts every byte.)
    return { signal, load: () => digestOfText(source.text, algorithm, signal), start: async (_token, digest) => encode(digest, encoding) }
  }
  const inline = !v.isLongText(source) && source.byteLength <= LIMITS.hash[algorithm]
  return {
    signal,
    progress,
    inline,
    load: v.loadSources([source], signal),
    start: async (token, [bytes] = [source]) => encode(await native.hashBytes(bytes, algorithm, token), encoding),
  }
})

const hashMany = operation('hashMany', (inputs, options) => {
  const sources = list(inputs, 'inputs').map((input, i) => v.sourceOf(input, `inputs[${i}]`))
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  const inline = sources.length === 0 || (sources.length === 1 && !v.isLongText(sources[0]) && sources[0].byteLength <= LIMITS.hash[algorithm])
  return {
    signal,
    progress,
    inline,
    load: v.loadSources(sources, signal),
    start: async (token, views = sources) => encodeEach(await native.hashMany(views, algorithm, token), algorithm, encoding),
  }
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

/** Bytes of small chunks copied into one batch, hashed by one native update. */
const STREAM_BATCH = 8 << 20
/**
 * Chunks at least this large are hashed in place (no copy), and the iterable is not asked for
 * its next chunk until that update is done; smaller ones are copied into a batch, so that the
 * iterable can go on (and reuse its buffer) while the previous batch is hashed.
 */
const IN_PLACE = 1 << 20
/**
 * Fewest bytes an idle native side is handed: each update is a native call of its own (tens
 * of microseconds), and 64 KiB chunks sent one by one took longer in calls than in hashing.
 */
const MIN_UPDATE = 1 << 20

/**
 * The digest of everything `readable` (a Readable or any async iterable of strings and byte
 * chunks) yields, hashed off the main thread while it arrives. An async iterable owns its
 * chunks again as soon as it is asked for the next one (a generator may refill one buffer),
 * so no chunk is read by native code after that: small chunks are copied into a batch, large
 * ones are hashed in place before the next is asked for. A string of over 2^20 UTF-16 units
 * is encoded a part at a time, each part hashed while the next is encoded, as hash() does.
 * Counted as one call in stats().
 */
function hashStream(readable, options) {
  let prepared
  try {
    if (readable === null || typeof readable !== 'object' || typeof readable[Symbol.asyncIterator] !== 'function') {
      throw invalidType('readable', 'a Readable stream or an async iterable', readable)
    }
    prepared = hashOptions(options)
    if (options?.onProgress !== undefined) {
      throw invalidValue('options.onProgress', options.onProgress, 'is not supported by hashStream (count the chunks as they arrive)')
    }
  } catch (error) {
    countArgumentError()
    return Promise.reject(error)
  }
  const { algorithm, encoding, signal } = prepared
  const settle = longCall()
  if (signal?.aborted) {
    settle('cancelled')
    return Promise.reject(new AbortError(undefined, { cause: signal.reason }))
  }
  return digestOf(readable, algorithm, signal).then(
    (digest) => {
      settle('completed')
      return encode(digest, encoding)
    },
    (error) => {
      settle(error instanceof AbortError ? 'cancelled' : 'failed')
      throw error
    },
  )
}

/**
 * Updates of `state` one at a time, each a native call of its own (not counted in stats()),
 * stopped by `signal`. `update(chunks)` waits for the update before it, then starts one and
 * resolves (so the caller can prepare the next chunks meanwhile); a failed update fails the
 * next call. `running` is the update in flight (a Promise that never rejects) or null.
 */
function serialUpdates(state, signal) {
  let running = null
  let failure = null
  return {
    get running() {
      return running
    },
    get failure() {
      return failure
    },
    async update(chunks) {
      if (running !== null) await running
      if (failure !== null) throw failure
      running = step((token) => state.update(chunks, token), signal).then(
        () => { running = null },
        (error) => { running = null; failure ??= error },
      )
    },
    /** Waits for the last update; throws its failure. */
    async settled() {
      if (running !== null) await running
      if (failure !== null) throw failure
    },
  }
}

/**
 * The digest of a long text's UTF-8 bytes: one pass encodes it a part at a time on this
 * thread, each part hashed while the next is encoded (81M ASCII units, SHA-256: 143 ms as
 * encoding all and then hashing, against node's crypto 132 ms on the main thread).
 */
async function digestOfText(text, algorithm, signal) {
  const state = new native.HashState(algorithm)
  const updates = serialUpdates(state, signal)
  try {
    await v.encodeTextInParts(text, signal, (part) => updates.update([part]))
  } finally {
    // A part may still be read: the buffers are ours, but the call ends once no update runs.
    await updates.running
  }
  await updates.settled()
  return state.digest()
}

async function digestOf(readable, algorithm, signal) {
  const state = new native.HashState(algorithm)
  const controller = new AbortController()
  const aborted = () => new AbortError(undefined, { cause: signal.reason })
  // Settles (rejects) when the signal fires: raced against every wait, so that an iterable
  // that never yields again cannot hold the call.
  let onAbort = null
  const abortion = new Promise((resolve, reject) => {
    onAbort = () => {
      controller.abort(signal.reason)
      reject(aborted())
    }
  })
  abortion.catch(() => {})
  signal?.addEventListener('abort', onAbort, { once: true })
  const iterator = readable[Symbol.asyncIterator]()
  let batch = null
  let used = 0
  const updates = serialUpdates(state, controller.signal)
  // Two batch buffers take turns, one hashed while the other fills: a fresh 8 MiB buffer per
  // batch cost its page faults on this thread every time (100 MB stream: 86 -> 71 ms).
  let hashing = null // our batch buffer that the update in flight reads, if any
  let spare = null // a batch buffer no update reads any more
  const update = async (chunks, own = null) => {
    await updates.update(chunks)
    // The update before this one has finished: its buffer may be filled again.
    if (hashing !== null) spare = hashing
    hashing = own
  }
  const flushBatch = async () => {
    if (used === 0) return
    const [full, own] = [batch.subarray(0, used), batch]
    batch = null
    used = 0
    await update([full], own)
  }
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), abortion])
      if (updates.failure !== null) throw updates.failure
      if (next.done) break
      const source = typeof next.value === 'string' ? v.sourceOf(next.value, 'chunk') : null
      if (v.isLongText(source)) {
        // Encoded a part at a time (the loop turning between slices), each part hashed while
        // the next is encoded; the parts are ours, so they are hashed in place without a wait.
        await flushBatch()
        await v.encodeTextInParts(source.text, controller.signal, (part) => update([part]))
        continue
      }
      const bytes = chunkBytes(next.value, 'utf8')
      if (bytes.byteLength === 0) continue
      if (bytes.byteLength >= IN_PLACE && typeof next.value !== 'string') {
        // Hashed where it is; the iterable waits until native code is done with it.
        await flushBatch()
        heldChunk(bytes, 'utf8')
        await update([bytes])
        await Promise.race([updates.running, abortion])
        continue
      }
      if (batch !== null && used + bytes.byteLength > batch.byteLength) await flushBatch()
      if (batch === null) {
        const size = Math.max(STREAM_BATCH, bytes.byteLength)
        batch = spare !== null && spare.byteLength >= size ? spare : Buffer.allocUnsafeSlow(size)
        spare = null
      }
      batch.set(bytes, used)
      used += bytes.byteLength
      // Hash what is gathered whenever the native side is idle, once it is worth a call.
      if (updates.running === null && used >= MIN_UPDATE) await flushBatch()
    }
    await flushBatch()
    while (updates.running !== null) await Promise.race([updates.running, abortion])
    if (updates.failure !== null) throw updates.failure
    return state.digest()
  } catch (error) {
    controller.abort(error)
    // A running update may read a chunk in place: it stops within milliseconds.
    await updates.running
    // Give the source back: a Readable is destroyed, a generator returns (neither awaited, as
    // an iterable that hangs would hang its return too).
    if (typeof readable.destroy === 'function') readable.destroy()
    else if (typeof iterator.return === 'function') Promise.resolve().then(() => iterator.return()).catch(() => {})
    if (signal?.aborted && !(error instanceof AbortError)) throw aborted()
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

module.exports = { hash, hashFile, hashFiles, hashMany, hashStream }
