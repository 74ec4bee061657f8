'use strict'

// Hashing: buffers, batches and files. Inputs become a Uint8Array over the same bytes (strings
// are encoded as UTF-8), the native side returns the digests as bytes, and they are encoded here.

const { fileURLToPath } = require('node:url')
const { isAnyArrayBuffer } = require('node:util').types

const native = require('./native.js')
const { invalidType, invalidValue } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

/** Digest length in bytes, by algorithm. */
const DIGEST_BYTES = { blake3: 32, sha256: 32, sha512: 64, 'xxh3-64': 8, 'xxh3-128': 16 }
const ENCODINGS = ['hex', 'base64', 'base64url', 'buffer']
const INPUT_TYPES = 'of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer'

/** The bytes an input stands for, as a Uint8Array view (a copy only for strings). */
function bytesOf(input, name) {
  if (typeof input === 'string') return Buffer.from(input, 'utf8')
  if (ArrayBuffer.isView(input)) {
    const { buffer, byteOffset, byteLength } = v.heldView(input, name)
    return new Uint8Array(buffer, byteOffset, byteLength)
  }
  if (isAnyArrayBuffer(input)) {
    v.holdBuffer(input, name, input)
    return new Uint8Array(input)
  }
  throw invalidType(name, INPUT_TYPES, input)
}

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

/** A path as fs accepts it (string, Buffer or file: URL), as a string. */
function pathOf(value, name) {
  let path = value
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw invalidValue(name, value.href, 'must be a file: URL')
    path = fileURLToPath(value)
  } else if (Buffer.isBuffer(value)) {
    path = value.toString('utf8')
  }
  if (typeof path !== 'string') throw invalidType(name, 'of type string or an instance of Buffer or URL', value)
  if (path.includes('\u0000')) throw invalidValue(name, value, 'must be a string without null bytes')
  return path
}

function list(value, name) {
  if (!Array.isArray(value)) throw invalidType(name, 'an instance of Array', value)
  return value
}

const hash = operation('hash', (input, options) => {
  const bytes = bytesOf(input, 'input')
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  const inline = bytes.byteLength <= LIMITS.hash[algorithm]
  return { signal, progress, inline, start: async (token) => encode(await native.hashBytes(bytes, algorithm, token), encoding) }
})

const hashMany = operation('hashMany', (inputs, options) => {
  const views = list(inputs, 'inputs').map((input, i) => bytesOf(input, `inputs[${i}]`))
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  const inline = views.length <= 1 && (views.length === 0 || views[0].byteLength <= LIMITS.hash[algorithm])
  return { signal, progress, inline, start: async (token) => encodeEach(await native.hashMany(views, algorithm, token), algorithm, encoding) }
})

const hashFile = operation('hashFile', (path, options) => {
  const p = pathOf(path, 'path')
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  return { signal, progress, start: async (token) => encode(await native.hashFiles([p], algorithm, token), encoding) }
})

const hashFiles = operation('hashFiles', (paths, options) => {
  const ps = list(paths, 'paths').map((p, i) => pathOf(p, `paths[${i}]`))
  const { algorithm, encoding, signal, progress } = hashOptions(options)
  return { signal, progress, start: async (token) => encodeEach(await native.hashFiles(ps, algorithm, token), algorithm, encoding) }
})

module.exports = { hash, hashFile, hashFiles, hashMany }
