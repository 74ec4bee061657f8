'use strict'

// The shared part of every call: the abort wiring, the FIFO queue that keeps at most
// `maxInFlight` native tasks on the libuv pool, the caller's stack on native errors, and the
// counters behind stats().

const native = require('../binding.js')
const { AbortError, queueFull } = require('./errors.js')

/** libuv's pool size minus two (at least one): leaves threads for fs, dns, crypto and zlib. */
function defaultMaxInFlight() {
  const size = Number.parseInt(process.env.UV_THREADPOOL_SIZE, 10)
  const pool = Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4
  return Math.max(1, pool - 2)
}

const settings = { maxInFlight: defaultMaxInFlight(), maxQueue: Infinity }
const counters = { running: 0, queued: 0, completed: 0, failed: 0, cancelled: 0 }

// The jobs whose native task runs now (aborted ones included until their kernel stops).
const running = new Set()

// process.exit() (or an uncaught exception) makes libuv wait for every running native task
// before the process can end; cancelled, they stop within milliseconds instead of running to
// the end. (worker.terminate() runs no JS in the worker: Node waits for its running tasks.)
process.once('exit', () => {
  for (const job of running) job.token?.cancel()
})

// FIFO of waiting jobs: an array read from `head`, compacted now and then.
let waiting = []
let head = 0

function abortError(signal) {
  return new AbortError(undefined, { cause: signal.reason })
}

/** Records the caller's stack now, so that a native failure later points at the caller. */
function captureStack(publicFunction) {
  const holder = {}
  Error.captureStackTrace(holder, publicFunction)
  return holder
}

function withCallerStack(error, holder) {
  if (error instanceof Error && holder && typeof holder.stack === 'string') {
    const frames = holder.stack.slice(holder.stack.indexOf('\n') + 1)
    error.stack = `${error.name}: ${error.message}\n${frames}`
  }
  return error
}

/**
 * Runs `start(token)`, a function that calls one native operation with a fresh CancelToken
 * and returns its Promise, once a slot is free. Settles exactly once: with the value, the
 * native error (given the caller's stack), an AbortError, or ERR_OFFLOAD_QUEUE_FULL.
 */
function submit(start, signal, stack) {
  return new Promise((resolve, reject) => {
    if (signal !== undefined && signal.aborted) {
      counters.cancelled++
      reject(abortError(signal))
      return
    }
    const job = { start, signal, stack, resolve, reject, token: null, state: 'queued', onAbort: null }
    if (counters.running < settings.maxInFlight) {
      listen(job)
      launch(job)
    } else if (counters.queued >= settings.maxQueue) {
      counters.failed++
      reject(withCallerStack(queueFull(settings.maxQueue), stack))
    } else {
      listen(job)
      waiting.push(job)
      counters.queued++
    }
  })
}

function listen(job) {
  if (job.signal === undefined) return
  job.onAbort = () => abortJob(job)
  job.signal.addEventListener('abort', job.onAbort, { once: true })
}

function unlisten(job) {
  if (job.onAbort !== null) job.signal.removeEventListener('abort', job.onAbort)
  job.onAbort = null
  job.start = null // drop the inputs the closure holds
}

function launch(job) {
  job.state = 'running'
  counters.running++
  running.add(job)
  let promise
  try {
    job.token = new native.CancelToken()
    promise = job.start(job.token)
  } catch (error) {
    promise = Promise.reject(error)
  }
  promise.then(
    (value) => finish(job, true, value),
    (error) => finish(job, false, error),
  )
}

function finish(job, ok, result) {
  counters.running--
  running.delete(job)
  if (job.state === 'running') {
    job.state = 'settled'
    unlisten(job)
    if (ok) {
      counters.completed++
      job.resolve(result)
    } else {
      counters.failed++
      job.reject(withCallerStack(result, job.stack))
    }
  }
  // An aborted job was settled by abortJob already; its slot is only free now.
  pump()
}

function abortJob(job) {
  if (job.state === 'running') {
    // The kernel sees the flag within milliseconds; the slot stays taken until it stops, so
    // the libuv pool never holds more than maxInFlight of our tasks.
    job.token?.cancel()
  } else if (job.state === 'queued') {
    counters.queued--
  } else {
    return
  }
  job.state = 'aborted'
  counters.cancelled++
  unlisten(job)
  job.reject(abortError(job.signal))
}

function pump() {
  while (counters.running < settings.maxInFlight && head < waiting.length) {
    const job = waiting[head]
    waiting[head++] = undefined
    if (job.state !== 'queued') continue // aborted while waiting
    counters.queued--
    launch(job)
  }
  if (head === waiting.length) {
    waiting = []
    head = 0
  } else if (head > 1024 && head * 2 > waiting.length) {
    waiting = waiting.slice(head)
    head = 0
  }
}

module.exports = { captureStack, counters, defaultMaxInFlight, pump, settings, submit }
