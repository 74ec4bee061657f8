'use strict'

// The shared part of every call: argument checks counted like any other failure, the abort
// wiring, the wait for one of the process's in-flight slots (native, shared by every thread),
// the caller's stack on native errors, and the counters behind stats().

const native = require('./native.js')
const { AbortError, queueFull } = require('./errors.js')

/** This thread's calls. Every settled Promise is counted once: completed, failed or cancelled. */
const counters = { running: 0, queued: 0, completed: 0, failed: 0, cancelled: 0 }

// The jobs whose native task runs now (aborted ones included until their kernel stops).
const running = new Set()

// process.exit() (or an uncaught exception) makes libuv wait for every running native task
// before the process can end; cancelled, they stop within milliseconds instead of running to
// the end. (worker.terminate() runs no JS in the worker: there the native watchdog in
// src/teardown.rs cancels them.)
process.once('exit', () => {
  for (const job of running) job.token?.cancel()
})

// FIFO of this thread's waiting jobs: an array read from `head`, compacted now and then.
let waiting = []
let head = 0

// Slots are freed by native tasks as they end, in any thread: a thread whose jobs wait for a
// slot that another thread holds looks again after this many milliseconds. Its own calls
// ending wake it at once.
const RETRY_MS = 1
let retryTimer = null

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
 * A public operation. `prepare(...args)` checks the arguments (throwing the Node-style error
 * for a misuse) and returns `{ start, signal, inline, load, complete }`, where `start(token)`
 * calls one native operation with the call's CancelToken and returns its Promise, `inline`
 * says the input is tiny enough to run on this thread at once (no queue, no slot, no thread
 * hop), the optional `load()` makes the inputs first (see loadThenSubmit), and the optional
 * `complete(value)` finishes the native result on this thread (a Promise of the
 * call's value; the call runs until it settles, and an AbortError from it counts as
 * cancelled). The operation never throws: a bad argument is a rejected Promise, counted as
 * failed.
 */
function operation(name, prepare) {
  const op = {
    [name](...args) {
      let call
      try {
        call = prepare(...args)
      } catch (error) {
        counters.failed++
        return Promise.reject(error)
      }
      // An inline call's errors are made while the caller is still on the stack; a queued
      // call's are made later, from libuv, so its caller's stack is recorded now.
      if (call.load === undefined) {
        if (call.inline) return runInline(call.start, call.signal, call.progress, call.complete)
        return submit(call.start, call.signal, captureStack(op), call.progress, COUNTED, call.settleAfterStop === true, call.complete)
      }
      return loadThenSubmit(call, captureStack(op))
    },
  }[name]
  return op
}

/**
 * A call whose inputs are made on this thread first (`load()`, a Promise of what `start`
 * gets as its second argument: long strings encoded a slice at a time): running while they
 * are made, then queued for a slot as any call. An AbortError from `load` counts it as
 * cancelled.
 */
function loadThenSubmit(call, stack) {
  if (call.signal !== undefined && call.signal.aborted) {
    counters.cancelled++
    return Promise.reject(abortError(call.signal))
  }
  counters.running++
  let loading
  try {
    loading = Promise.resolve(call.load())
  } catch (error) {
    loading = Promise.reject(error)
  }
  return loading.then(
    (loaded) => {
      counters.running--
      const start = (token) => call.start(token, loaded)
      return submit(start, call.signal, stack, call.progress, COUNTED, call.settleAfterStop === true, call.complete)
    },
    (error) => {
      counters.running--
      counters[error instanceof AbortError ? 'cancelled' : 'failed']++
      throw error
    },
  )
}

/**
 * The last progress report, `done === total`, made just before a call resolves. Returns the
 * callback's exception (which then rejects the call), or undefined.
 */
function reportDone(progress, token) {
  if (progress === undefined) return undefined
  const total = token.progress()[1]
  try {
    progress.onProgress({ done: total, total })
  } catch (error) {
    return { error }
  }
  return undefined
}

/**
 * Settles a call whose native part succeeded: at once, or once `complete` has finished the
 * value (the call counted as running until then).
 */
function succeed(complete, value, resolve, reject, counted) {
  if (complete === undefined) {
    if (counted) counters.completed++
    resolve(value)
    return
  }
  if (counted) counters.running++
  let finishing
  try {
    finishing = Promise.resolve(complete(value))
  } catch (error) {
    finishing = Promise.reject(error)
  }
  finishing.then(
    (done) => {
      if (counted) {
        counters.running--
        counters.completed++
      }
      resolve(done)
    },
    (error) => {
      if (counted) {
        counters.running--
        counters[error instanceof AbortError ? 'cancelled' : 'failed']++
      }
      reject(error)
    },
  )
}

/** Runs a tiny call now, on this thread: the native side settles its Promise before returning. */
function runInline(start, signal, progress, complete) {
  if (signal !== undefined && signal.aborted) {
    counters.cancelled++
    return Promise.reject(abortError(signal))
  }
  let promise
  const token = new native.CancelToken(true)
  try {
    promise = start(token)
  } catch (error) {
    promise = Promise.reject(error)
  }
  return new Promise((resolve, reject) => {
    promise.then(
      (value) => {
        const thrown = reportDone(progress, token)
        if (thrown !== undefined) {
          counters.failed++
          reject(thrown.error)
          return
        }
        succeed(complete, value, resolve, reject, COUNTED)
      },
      (error) => {
        counters.failed++
        reject(error)
      },
    )
  })
}

const COUNTED = true

/** Adds one settled call to this thread's counters, unless the job is a step of a larger call. */
function count(job, outcome) {
  if (job.counted) counters[outcome]++
}

/**
 * One native step of a larger call (a stream, hashStream): scheduled like any call (a slot,
 * FIFO, abort) but not counted in stats() (the larger call is), and settled only when its
 * kernel has stopped, so that the caller knows native code no longer reads its inputs.
 */
function step(start, signal) {
  return submit(start, signal, undefined, undefined, !COUNTED, true)
}

/** Counts a bad argument of a call that throws synchronously (the stream constructors). */
function countArgumentError() {
  counters.failed++
}

/**
 * A call made of steps (a stream), counted once in stats(): running from now until
 * `settle('completed' | 'failed' | 'cancelled')`, whose later calls do nothing.
 */
function longCall() {
  counters.running++
  let settled = false
  return (outcome) => {
    if (settled) return
    settled = true
    counters.running--
    counters[outcome]++
  }
}

/**
 * Runs `start(token)` once the process has a free slot. Settles exactly once: with the value,
 * the native error (given the caller's stack), an AbortError, or ERR_OFFLOAD_QUEUE_FULL.
 * `settleAfterStop`: an abort while the kernel runs rejects once the kernel has stopped (a
 * file operation's temporary file is gone by then), not at once.
 */
function submit(start, signal, stack, progress, counted, settleAfterStop, complete) {
  return new Promise((resolve, reject) => {
    if (signal !== undefined && signal.aborted) {
      if (counted) counters.cancelled++
      reject(abortError(signal))
      return
    }
    const job = {
      start, signal, stack, resolve, reject, token: null, state: 'queued', onAbort: null,
      progress, timer: null, reported: -1, counted, settleAfterStop, complete,
    }
    // Jobs already waiting in this thread go first.
    const token = counters.queued === 0 ? native.tryStartCall() : null
    if (token !== null) {
      listen(job)
      launch(job, token)
    } else if (counters.queued >= native.maxQueue()) {
      count(job, 'failed')
      reject(withCallerStack(queueFull(native.maxQueue()), stack))
    } else {
      listen(job)
      waiting.push(job)
      counters.queued++
      retryLater()
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
  if (job.timer !== null) clearInterval(job.timer)
  job.timer = null
}

/**
 * onProgress's timer: reads the kernel's counters (two atomic loads) and reports a change.
 * `done === total` is left for the report made just before the Promise resolves, so that it
 * comes exactly once; an unref'd timer never keeps the process alive.
 */
function watchProgress(job) {
  job.timer = setInterval(() => {
    if (job.state !== 'running') return
    const [done, total] = job.token.progress()
    if (total === 0 || done >= total || done === job.reported) return
    job.reported = done
    try {
      job.progress.onProgress({ done, total })
    } catch (error) {
      failJob(job, error)
    }
  }, job.progress.interval)
  job.timer.unref()
}

function launch(job, token) {
  job.state = 'running'
  job.token = token
  if (job.counted) counters.running++
  running.add(job)
  if (job.progress !== undefined) watchProgress(job)
  let promise
  try {
    promise = job.start(token)
  } catch (error) {
    promise = Promise.reject(error)
  }
  promise.then(
    (value) => finish(job, true, value),
    (error) => finish(job, false, error),
  )
}

function finish(job, ok, result) {
  // The native task freed its slot when its work ended; this frees it if no task took it.
  job.token.release()
  if (job.counted) counters.running--
  running.delete(job)
  if (job.state === 'running') {
    job.state = 'settled'
    unlisten(job)
    const thrown = ok ? reportDone(job.progress, job.token) : undefined
    if (thrown !== undefined) {
      count(job, 'failed')
      job.reject(thrown.error)
    } else if (ok) {
      succeed(job.complete, result, job.resolve, job.reject, job.counted)
    } else {
      count(job, 'failed')
      job.reject(withCallerStack(result, job.stack))
    }
  } else if (job.state === 'stopping') {
    // Aborted while running, settled now that the kernel has stopped: rejected, unless the
    // kernel had already finished its work (a file renamed into place), which stands.
    job.state = 'settled'
    if (ok) {
      succeed(job.complete, result, job.resolve, job.reject, job.counted)
    } else {
      count(job, 'cancelled')
      job.reject(abortError(job.signal))
    }
  }
  // An aborted job was settled by abortJob already; its slot is only free now.
  pump()
}

function abortJob(job) {
  if (job.state === 'running') {
    // The kernel sees the flag within milliseconds; the slot stays taken until it stops, so
    // the libuv pool never holds more than maxInFlight of our tasks.
    job.token.cancel()
    if (job.settleAfterStop) {
      job.state = 'stopping' // `finish` settles once the kernel has stopped
      unlisten(job)
      return
    }
  } else if (job.state === 'queued') {
    counters.queued--
  } else {
    return
  }
  job.state = 'aborted'
  count(job, 'cancelled')
  unlisten(job)
  job.reject(abortError(job.signal))
}

/** onProgress threw: the kernel is stopped and the call rejects with the callback's error. */
function failJob(job, error) {
  job.token.cancel()
  job.state = 'aborted' // settled here; `finish` only frees the slot when the kernel stops
  count(job, 'failed')
  unlisten(job)
  job.reject(error)
}

function retryLater() {
  if (retryTimer === null) {
    retryTimer = setTimeout(() => {
      retryTimer = null
      pump()
    }, RETRY_MS)
  }
}

/** Starts waiting jobs, oldest first, while the process has free slots. */
function pump() {
  while (head < waiting.length) {
    const job = waiting[head]
    if (job.state === 'queued') {
      const token = native.tryStartCall()
      if (token === null) {
        retryLater()
        break
      }
      counters.queued--
      launch(job, token)
    }
    waiting[head++] = undefined
  }
  if (head === waiting.length) {
    waiting = []
    head = 0
  } else if (head > 1024 && head * 2 > waiting.length) {
    waiting = waiting.slice(head)
    head = 0
  }
}

module.exports = { counters, countArgumentError, longCall, operation, pump, step }
