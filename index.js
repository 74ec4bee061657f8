'use strict'

// offload: CPU-heavy work on every core, off the event loop. This file is the public entry;
// the native addon is loaded by binding.js, which `napi build` generates.

const os = require('node:os')

const native = require('./lib/native.js')
const data = require('./lib/data.js')
const hashing = require('./lib/hash.js')
const algo = require('./lib/algo.js')
const image = require('./lib/image.js')
const compression = require('./lib/compress.js')
const csv = require('./lib/csv.js')
const password = require('./lib/password.js')
const { AbortError, outOfRange } = require('./lib/errors.js')
const { counters, pump } = require('./lib/scheduler.js')
const v = require('./lib/validate.js')

/**
 * The default per-buffer allocation limit: half the memory this process may use (the machine's,
 * or its cgroup's when smaller). One buffer past that is a typo or hostile input, not a workload.
 */
function defaultMaxAllocation() {
  let memory = os.totalmem()
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : undefined
  if (typeof constrained === 'number' && constrained > 0 && constrained < memory) memory = constrained
  return Math.floor(memory / 2)
}
native.initMaxAllocation(defaultMaxAllocation())

// OFFLOAD_THREADS sizes the pool (read natively, once per process); a value it cannot use is
// ignored, and said so once, by the main thread.
if (process.env.OFFLOAD_THREADS !== undefined && require('node:worker_threads').isMainThread) {
  const value = process.env.OFFLOAD_THREADS
  const n = Number(value.trim())
  const max = native.maxThreads()
  if (!(Number.isInteger(n) && n >= 1 && n <= max && /^\s*\+?\d+\s*$/.test(value))) {
    process.emitWarning(
      `OFFLOAD_THREADS=${JSON.stringify(value)} is not a whole number from 1 to ${max} (4 per usable core); offload uses every usable core instead.`,
      { code: 'OFFLOAD_THREADS_IGNORED' },
    )
  }
}

/**
 * Sets the process-wide settings: the rayon pool size, the number of native calls in flight at
 * once (every thread counted), the per-thread queue limit, the per-buffer allocation limit and
 * the pool threads' nice increment; returns the settings in force. Synchronous: a bad value throws, and nothing is applied.
 */
function configure(options) {
  const opts = v.options(options, 'options', ['threads', 'maxInFlight', 'maxQueue', 'maxAllocation', 'niceIncrement'])
  let threads
  if (opts.threads !== undefined) {
    const max = native.maxThreads()
    v.number(opts.threads, 'options.threads')
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > max) {
      throw outOfRange('options.threads', `an integer >= 1 and <= ${max} (4 per core this process may use: more threads only slow every call)`, opts.threads)
    }
    threads = opts.threads
  }
  let maxInFlight
  if (opts.maxInFlight !== undefined) {
    const max = native.maxInFlightLimit()
    v.number(opts.maxInFlight, 'options.maxInFlight')
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1 || opts.maxInFlight > max) {
      throw outOfRange(
        'options.maxInFlight',
        `an integer >= 1 and <= ${max}: UV_THREADPOOL_SIZE is ${native.libuvPoolSize()}, and one libuv thread must stay free for fs, dns, crypto and zlib (set UV_THREADPOOL_SIZE before Node starts to allow more)`,
        opts.maxInFlight,
      )
    }
    maxInFlight = opts.maxInFlight
  }
  let maxQueue
  if (opts.maxQueue !== undefined) {
    maxQueue = v.number(opts.maxQueue, 'options.maxQueue')
    if (maxQueue !== Infinity && !(Number.isSafeInteger(maxQueue) && maxQueue >= 0)) {
      throw outOfRange('options.maxQueue', 'an integer >= 0 or Infinity', maxQueue)
    }
  }
  let maxAllocation
  if (opts.maxAllocation !== undefined) {
    maxAllocation = v.number(opts.maxAllocation, 'options.maxAllocation')
    if (maxAllocation !== Infinity && !(Number.isSafeInteger(maxAllocation) && maxAllocation >= 0)) {
      throw outOfRange('options.maxAllocation', 'an integer number of bytes >= 0, or Infinity', maxAllocation)
    }
  }
  const niceIncrement = opts.niceIncrement === undefined
    ? undefined
    : v.integer(opts.niceIncrement, 'options.niceIncrement', 0, 19)
  // All values are checked before any is applied. The priority goes first: it is the one the
  // OS can refuse (lowering it again needs CAP_SYS_NICE), and then nothing else changes.
  if (niceIncrement !== undefined) native.setNiceIncrement(niceIncrement)
  if (threads !== undefined) native.setThreads(threads)
  if (maxAllocation !== undefined) native.setMaxAllocation(maxAllocation)
  if (maxInFlight !== undefined) native.setMaxInFlight(maxInFlight)
  if (maxQueue !== undefined) native.setMaxQueue(maxQueue)
  pump()
  return current()
}

function current() {
  return {
    threads: native.threadCount(),
    maxInFlight: native.maxInFlight(),
    maxQueue: native.maxQueue(),
    maxAllocation: native.maxAllocation(),
    niceIncrement: native.niceIncrement(),
  }
}

/** The settings in force and the call counters. */
function stats() {
  return {
    ...current(),
    running: counters.running,
    inFlight: native.inFlight(),
    queued: counters.queued,
    completed: counters.completed,
    failed: counters.failed,
    cancelled: counters.cancelled,
  }
}

const { sort, argsort, describe, quantiles, histogram, groupBy } = data
const { hash, hashMany, hashFile, hashFiles, hashStream } = hashing
const { compress, decompress, compressFile, decompressFile, createCompressStream, createDecompressStream } = compression
const { countPrimes, primes, matmul, mandelbrot, topK } = algo
const { parseCsv, readCsv, PANDAS_NULL_VALUES } = csv
const { hashPassword, verifyPassword, needsRehash } = password
const { grayscale, blur, resize } = image

// Shorthand names only: Node's ESM loader reads them, so `import { sort } from 'offload'` works.
module.exports = {
  sort,
  argsort,
  describe,
  quantiles,
  histogram,
  groupBy,
  hash,
  hashMany,
  hashFile,
  hashFiles,
  hashStream,
  compress,
  decompress,
  compressFile,
  decompressFile,
  createCompressStream,
  createDecompressStream,
  parseCsv,
  readCsv,
  PANDAS_NULL_VALUES,
  hashPassword,
  verifyPassword,
  needsRehash,
  countPrimes,
  primes,
  matmul,
  mandelbrot,
  topK,
  grayscale,
  blur,
  resize,
  configure,
  stats,
  AbortError,
}
