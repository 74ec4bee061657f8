'use strict'

// Small predicates for arguments, each throwing the Node-style error for its misuse. The
// public functions are async, so a throw here becomes a rejected Promise.

const { invalidType, invalidValue, outOfRange } = require('./errors.js')

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

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
).get

/** The kind of a real typed array (not a look-alike or a Proxy), or undefined. */
function typedArrayKind(value) {
  return ArrayBuffer.isView(value) ? typedArrayTag.call(value) : undefined
}

/** True when the view's buffer has been transferred or detached. */
function isDetached(view) {
  if (view.byteLength !== 0) return false
  try {
    // Constructing a view on a detached buffer throws.
    // eslint-disable-next-line no-new
    new Uint8Array(view.buffer)
    return false
  } catch {
    return true
  }
}

function numericArray(value, name) {
  const kind = typedArrayKind(value)
  if (!NUMERIC_KINDS.has(kind)) {
    throw invalidType(name, 'an instance of a numeric TypedArray (Int8Array ... Float64Array, BigInt64Array, BigUint64Array)', value)
  }
  if (isDetached(value)) throw invalidValue(name, value, 'is backed by a detached ArrayBuffer')
  return value
}

/** `options`: undefined or a plain object; returns an object to read from. */
function options(value, name = 'options') {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidType(name, 'of type object', value)
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

module.exports = { NUMERIC_KINDS, boolean, integer, isDetached, number, numericArray, options, signal, typedArrayKind }
