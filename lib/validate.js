'use strict'

// Small predicates for arguments, each throwing the Node-style error for its misuse. The
// public functions are async, so a throw here becomes a rejected Promise.

const { fileURLToPath } = require('node:url')
const { isAnyArrayBuffer, isSharedArrayBuffer } = require('node:util').types
const { isMarkedAsUntransferable, markAsUntransferable } = require('node:worker_threads')

const { AbortError, invalidType, invalidValue, outOfRange } = require('./errors.js')

/** The most elements a typed array (a result) can hold in this Node. */
const MAX_RESULT_LENGTH = require('node:buffer').constants.MAX_LENGTH

/** The numeric typed-array kinds offload accepts, by constructor name. */
const NUMERIC_KINDS = new Set([
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
])

// The intrinsic getters: a subclass or an own property cannot make a view lie about its size.
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype)
const getter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key)?.get
const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag)
const typedArrayGet = {
  buffer: getter(TypedArrayPrototype, 'buffer'),
  byteOffset: getter(TypedArrayPrototype, 'byteOffset'),
  byteLength: getter(TypedArrayPrototype, 'byteLength'),
  length: getter(TypedArrayPrototype, 'length'),
}
const dataViewGet = {
  buffer: getter(DataView.prototype, 'buffer'),
  byteOffset: getter(DataView.prototype, 'byteOffset'),
  byteLength: getter(DataView.prototype, 'byteLength'),
}
const arrayBufferResizable = getter(ArrayBuffer.prototype, 'resizable')
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength')

/** The kind of a real typed array (not a look-alike or a Proxy), or undefined. */
function typedArrayKind(value) {
  return ArrayBuffer.isView(value) ? typedArrayTag.call(value) : undefined
}

/** A typed array's element count, as the engine knows it. */
function lengthOf(view) {
  return typedArrayGet.length.call(view)
}

/** `{ buffer, byteOffset, byteLength }` of a typed array or DataView, as the engine knows them. */
function partsOf(view) {
  const get = typedArrayKind(view) === undefined ? dataViewGet : typedArrayGet
  return { buffer: get.buffer.call(view), byteOffset: get.byteOffset.call(view), byteLength: get.byteLength.call(view) }
}

/** True when the view's buffer has been transferred or detached. */
function isDetached(view) {
  const { buffer, byteLength } = partsOf(view)
  return byteLength === 0 && isBufferDetached(buffer)
}

function isBufferDetached(buffer) {
  if (isSharedArrayBuffer(buffer) || arrayBufferByteLength.call(buffer) !== 0) return false
  try {
    // Constructing a view on a detached buffer throws.
    // eslint-disable-next-line no-new
    new Uint8Array(buffer)
    return false
  } catch {
    return true
  }
}

/**
 * Readies memory that a native task will read (or write) in place from another thread, after
 * this call returns. Two things could pull it away mid-task and make the kernel touch freed
 * memory: a transfer (postMessage, structuredClone) followed by a collection of the new owner,
 * and shrinking a resizable ArrayBuffer. So a resizable ArrayBuffer is refused, and the buffer is
 * marked untransferable (as Node marks its own pooled Buffers): a later transfer copies it
 * (Node 20) or throws a DataCloneError (Node 21+) instead of detaching it. SharedArrayBuffers can
 * be neither detached nor shrunk.
 */
function holdBuffer(buffer, name, value) {
  if (isSharedArrayBuffer(buffer)) return
  if (isBufferDetached(buffer)) throw invalidValue(name, value, 'is backed by a detached ArrayBuffer')
  if (arrayBufferResizable !== undefined && arrayBufferResizable.call(buffer)) {
    throw invalidValue(
      name,
      value,
      'is backed by a resizable ArrayBuffer, which could shrink while offload reads it; pass a fixed-length copy (array.slice())',
    )
  }
  // Node 21+ marks the buffers native code made (external memory) itself; marking one of them
  // again aborts Node 24 at exit (FATAL ERROR: v8::FromJust in Environment::RunCleanup).
  if (isMarkedAsUntransferable?.(buffer)) return
  markAsUntransferable(buffer)
}

/** A typed array or DataView whose memory a task may use in place; returns its parts. */
function heldView(view, name) {
  const parts = partsOf(view)
  holdBuffer(parts.buffer, name, view)
  return parts
}

/** A numeric typed array, readied to be read in place. */
function numericArray(value, name) {
  const kind = typedArrayKind(value)
  if (!NUMERIC_KINDS.has(kind)) {
    throw invalidType(name, 'an instance of a numeric TypedArray (Int8Array ... Float64Array, BigInt64Array, BigUint64Array)', value)
  }
  heldView(value, name)
  return value
}

/** Levenshtein distance, for suggesting the option a typo meant. */
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** The accepted name closest to `key`, if it is close enough to be a typo of it. */
function closest(key, known) {
  const lower = key.toLowerCase()
  if (lower.length >= 3) {
    const prefixed = known.find((name) => name.toLowerCase().startsWith(lower) || lower.startsWith(name.toLowerCase()))
    if (prefixed !== undefined) return prefixed
  }
  let best
  let bestDistance = Infinity
  for (const name of known) {
    const d = distance(key.toLowerCase(), name.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [name, d]
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

/**
 * `options`: undefined or a plain object; returns an object to read from. With `known` (the
 * accepted option names), any other own property is refused: a misspelt option that is
 * silently ignored changes the result without a word.
 */
function options(value, name = 'options', known = undefined) {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidType(name, 'of type object', value)
  }
  if (known !== undefined) {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue
      const guess = closest(key, known)
      const hint = guess === undefined ? '' : ` (did you mean '${guess}'?)`
      const list = known.length === 0 ? 'none' : known.join(', ')
      throw invalidValue(`${name}.${key}`, value[key], `is not a known option${hint}; the options are: ${list}`)
    }
  }
  return value
}

function boolean(value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value)
  return value
}

function number(value, name) {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value)
  return value
}

/** An integer number within [min, max]. */
function integer(value, name, min, max, fallback) {
  if (value === undefined && fallback !== undefined) return fallback
  number(value, name)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value)
  }
  return value
}

function signal(value, name = 'options.signal') {
  if (value === undefined) return undefined
  if (!(value instanceof AbortSignal)) throw invalidType(name, 'an instance of AbortSignal', value)
  return value
}

/** The option names of operations that report progress. */
const PROGRESS_OPTIONS = ['onProgress', 'progressInterval']

/**
 * `{ onProgress, interval }` from an options object, or undefined without `onProgress`.
 * `progressInterval` is in milliseconds (default 100).
 */
function progress(opts) {
  const interval = integer(opts.progressInterval, 'options.progressInterval', 1, 2 ** 31 - 1, 100)
  if (opts.onProgress === undefined) return undefined
  if (typeof opts.onProgress !== 'function') throw invalidType('options.onProgress', 'of type function', opts.onProgress)
  return { onProgress: opts.onProgress, interval }
}

// Byte inputs (hash, compress) and paths (hashFile, compressFile).
const INPUT_TYPES = 'of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer'

/** The bytes an input stands for, as a Uint8Array view (a copy only for strings). */
function bytesOf(input, name) {
  if (typeof input === 'string') return Buffer.from(input, 'utf8')
  if (ArrayBuffer.isView(input)) {
    const { buffer, byteOffset, byteLength } = heldView(input, name)
    return new Uint8Array(buffer, byteOffset, byteLength)
  }
  if (isAnyArrayBuffer(input)) {
    holdBuffer(input, name, input)
    return new Uint8Array(input)
  }
  throw invalidType(name, INPUT_TYPES, input)
}

/**
 * A string longer than this many UTF-16 units is not encoded at once (a 60 MB string took
 * 60-140 ms of the event loop, 200-300 ms when not ASCII, mostly faulting in the new
 * buffer's pages): `sourceOf` leaves it as a LongText, which `loadSources` encodes a slice at
 * a time, the event loop running between slices.
 */
const LONG_TEXT = 1 << 20
/** UTF-16 units per piece of a long text (0.1-1 ms to measure or encode each). */
const TEXT_PIECE = 1 << 18
/**
 * Bytes of the parts a long text is hashed in (`encodeTextInParts`): a few ms of SHA-256, the
 * next part encoded meanwhile.
 */
const TEXT_PART = 4 << 20
/** Pieces are encoded (or copied into place) for about this long per turn of the event loop. */
const TEXT_SLICE_MS = 4

const textEncoder = new TextEncoder()

/** A string too long to encode at once (see LONG_TEXT). */
class LongText {
  constructor(text) {
    this.text = text
  }
}

/** Like bytesOf, but a long string is left as a LongText for `loadSources` to encode. */
function sourceOf(input, name) {
  if (typeof input === 'string' && input.length > LONG_TEXT) return new LongText(input)
  return bytesOf(input, name)
}

function isLongText(source) {
  return source instanceof LongText
}

function nextTurn() {
  return new Promise((resolve) => setImmediate(resolve))
}

function throwIfAborted(signal) {
  if (signal !== undefined && signal.aborted) throw new AbortError(undefined, { cause: signal.reason })
}

/**
 * The UTF-8 bytes of `text`, the same as Buffer.from(text, 'utf8'), in two passes of
 * `pieceUnits` UTF-16 units at a time (never splitting a surrogate pair; at least 2), each
 * going on for about TEXT_SLICE_MS per turn of the event loop: the pieces' byte lengths, then
 * each piece encoded into its place in the result, whose pages are faulted in as the pieces
 * land. (Buffer.from reads the text twice too; the turns are what differ.) An abort between
 * turns rejects with an AbortError carrying the signal's reason.
 */
async function encodeText(text, signal, pieceUnits = TEXT_PIECE) {
  const ends = []
  for (let at = 0; at < text.length; at = ends[ends.length - 1]) ends.push(pieceEnd(text, at, pieceUnits))
  const turns = turnsOf(signal)
  let total = 0
  for (let i = 0, at = 0; i < ends.length; at = ends[i++]) {
    total += Buffer.byteLength(text.slice(at, ends[i]), 'utf8')
    await turns.maybe()
  }
  // Not zeroed: every byte is written below.
  const out = Buffer.allocUnsafeSlow(total)
  let offset = 0
  for (let i = 0, at = 0; i < ends.length; at = ends[i++]) {
    offset += textEncoder.encodeInto(text.slice(at, ends[i]), out.subarray(offset)).written
    await turns.maybe()
  }
  return out
}

/** Where the piece of at most `pieceUnits` (at least 2) UTF-16 units from `at` ends. */
function pieceEnd(text, at, pieceUnits) {
  const end = Math.min(at + pieceUnits, text.length)
  const last = text.charCodeAt(end - 1)
  // A high surrogate ends the piece: it goes with the next one, which may start with its pair.
  return end < text.length && end - at > 1 && last >= 0xd800 && last <= 0xdbff ? end - 1 : end
}

/**
 * The UTF-8 bytes of `text` handed to `consume` a part at a time (parts of up to `partBytes`),
 * in one pass of `pieceUnits` UTF-16 units at a time, turning the event loop as encodeText
 * does. Two buffers take turns: `consume(part)` may go on reading `part` after it resolves,
 * until the next call to it resolves (so that native code hashes one part while the next is
 * encoded); no part is written to after that. The concatenated parts are Buffer.from(text).
 */
async function encodeTextInParts(text, signal, consume, pieceUnits = TEXT_PIECE, partBytes = TEXT_PART) {
  // A piece takes at most 3 bytes a unit (a pair 4 bytes for 2 units).
  const size = Math.max(partBytes, 3 * pieceUnits)
  const buffers = [Buffer.allocUnsafeSlow(size), null]
  let current = 0
  let used = 0
  const turns = turnsOf(signal)
  for (let at = 0; at < text.length;) {
    const end = pieceEnd(text, at, pieceUnits)
    if (size - used < 3 * (end - at)) {
      await consume(buffers[current].subarray(0, used))
      current = 1 - current
      buffers[current] ??= Buffer.allocUnsafeSlow(size)
      used = 0
    }
    used += textEncoder.encodeInto(text.slice(at, end), buffers[current].subarray(used)).written
    at = end
    await turns.maybe()
  }
  if (used > 0) await consume(buffers[current].subarray(0, used))
}

/** `maybe()`: a turn of the event loop once TEXT_SLICE_MS have gone by since the last. */
function turnsOf(signal) {
  let started = performance.now()
  return {
    async maybe() {
      if (performance.now() - started < TEXT_SLICE_MS) return
      await nextTurn()
      throwIfAborted(signal)
      started = performance.now()
    },
  }
}

/**
 * The bytes of each source (from sourceOf), the long texts encoded a slice at a time; or
 * undefined when there is no long text (the sources are the bytes).
 */
function loadSources(sources, signal) {
  if (!sources.some(isLongText)) return undefined
  return async () => {
    const out = []
    for (const source of sources) out.push(isLongText(source) ? await encodeText(source.text, signal) : source)
    return out
  }
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

module.exports = {
  bytesOf,
  encodeText,
  encodeTextInParts,
  isLongText,
  loadSources,
  sourceOf,
  pathOf,
  MAX_RESULT_LENGTH,
  PROGRESS_OPTIONS,
  progress,
  NUMERIC_KINDS,
  boolean,
  heldView,
  holdBuffer,
  integer,
  isDetached,
  lengthOf,
  number,
  numericArray,
  options,
  partsOf,
  signal,
  typedArrayKind,
}
