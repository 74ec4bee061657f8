'use strict'

// Node-style errors: the same classes, `code`s and message shapes as Node's own
// ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE and ERR_OUT_OF_RANGE.

const { inspect } = require('node:util')

/** How a received value is shown in a message, as Node's validators show it. */
function received(value) {
  if (value == null) return ` Received ${value}`
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) {
      return ` Received an instance of ${value.constructor.name}`
    }
    return ` Received ${inspect(value, { depth: -1 })}`
  }
  let shown = inspect(value, { colors: false })
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  return ` Received type ${typeof value} (${shown})`
}

/** `"name" argument` or `"options.x" property`, as Node words it. */
function subject(name) {
  return name.includes('.') ? `"${name}" property` : `"${name}" argument`
}

function withCode(error, code) {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true })
  return error
}

function invalidType(name, expected, value) {
  return withCode(new TypeError(`The ${subject(name)} must be ${expected}.${received(value)}`), 'ERR_INVALID_ARG_TYPE')
}

/** A value as a message shows it: one line, a few elements, at most about 120 characters. */
function shortInspect(value) {
  const shown = inspect(value, { depth: 1, maxArrayLength: 8, maxStringLength: 80, breakLength: Infinity })
  return shown.length > 120 ? `${shown.slice(0, 117)}...` : shown
}

function invalidValue(name, value, reason = 'is invalid') {
  const kind = name.includes('.') ? 'property' : 'argument'
  return withCode(
    new TypeError(`The ${kind} '${name}' ${reason}. Received ${shortInspect(value)}`),
    'ERR_INVALID_ARG_VALUE',
  )
}

function outOfRange(name, range, value) {
  const shown = typeof value === 'bigint' ? `${value}n` : inspect(value)
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE')
}

/** The error an aborted call rejects with, as Node's own AbortError. */
class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, options)
    this.code = 'ABORT_ERR'
    this.name = 'AbortError'
  }
}

function queueFull(limit) {
  return withCode(
    new Error(`The offload queue is full: ${limit} calls are already waiting (see configure({ maxQueue }))`),
    'ERR_OFFLOAD_QUEUE_FULL',
  )
}

module.exports = { AbortError, invalidType, invalidValue, outOfRange, queueFull, withCode }
