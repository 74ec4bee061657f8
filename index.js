'use strict'

// offload: CPU-heavy work on every core, off the event loop. This file is the public entry;
// the native addon is loaded by binding.js, which `napi build` generates.

const native = require('./binding.js')
const data = require('./lib/data.js')
const hashing = require('./lib/hash.js')
const algo = require('./lib/algo.js')
const image = require('./lib/image.js')
const { AbortError, outOfRange } = require('./lib/errors.js')
const { counters, pump, settings } = require('./lib/scheduler.js')
const v = require('./lib/validate.js')

const MAX_THREADS = 1024
const MAX_IN_FLIGHT = 1024

/**
 * Sets the rayon pool size, the number of native tasks run at once, and the queue limit;
 * returns the settings in force. Synchronous: a bad value throws.
 */
function configure(options) {
  const opts = v.options(options)
  const threads = opts.threads === undefined ? undefined : v.integer(opts.threads, 'options.threads', 1, MAX_THREADS)
  const maxInFlight =
    opts.maxInFlight === undefined ? undefined : v.integer(opts.maxInFlight, 'options.maxInFlight', 1, MAX_IN_FLIGHT)
  let maxQueue
  if (opts.maxQueue !== undefined) {
    maxQueue = v.number(opts.maxQueue, 'options.maxQueue')
    if (maxQueue !== Infinity && !(Number.isInteger(maxQueue) && maxQueue >= 0)) {
      throw outOfRange('options.maxQueue', 'an integer >= 0 or Infinity', maxQueue)
    }
  }
  // All values are checked before any is applied.
  if (threads !== undefined) native.setThreads(threads)
  if (maxInFlight !== undefined) settings.maxInFlight = maxInFlight
  if (maxQueue !== undefined) settings.maxQueue = maxQueue
  pump()
  return { threads: native.threadCount(), maxInFlight: settings.maxInFlight, maxQueue: settings.maxQueue }
}

/** The settings in force and the call counters. */
function stats() {
  return {
    threads: native.threadCount(),
    maxInFlight: settings.maxInFlight,
    maxQueue: settings.maxQueue,
    running: counters.running,
    queued: counters.queued,
    completed: counters.completed,
    failed: counters.failed,
    cancelled: counters.cancelled,
  }
}

module.exports = {
  sort: data.sort,
  argsort: data.argsort,
  describe: data.describe,
  quantiles: data.quantiles,
  histogram: data.histogram,
  hash: hashing.hash,
  hashMany: hashing.hashMany,
  hashFile: hashing.hashFile,
  hashFiles: hashing.hashFiles,
  countPrimes: algo.countPrimes,
  primes: algo.primes,
  matmul: algo.matmul,
  mandelbrot: algo.mandelbrot,
  grayscale: image.grayscale,
  blur: image.blur,
  resize: image.resize,
  configure,
  stats,
  AbortError,
}
