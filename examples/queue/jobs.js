'use strict'

// The jobs of the queue example: plain JSON in, plain JSON out, so that any process can run
// any job. Each names an offload operation; `inputs` rebuilds a job's data from its seed (the
// queue carries a few numbers, not megabytes).

const offload = require('../..')

/** A reproducible Float64Array: `length` values from a 32-bit LCG seeded with `seed`. */
function numbers(seed, length) {
  const out = new Float64Array(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x / 2 ** 32
  }
  return out
}

/**
 * Runs one job with offload. `options` carries the call's `signal` and `onProgress`.
 * - { op: 'countPrimes', n }           -> the number of primes <= n
 * - { op: 'describe', seed, length }   -> { count, mean, min, max } of numbers(seed, length)
 * - { op: 'hash', text, algorithm }    -> the hex digest of text
 */
async function run(data, options = {}) {
  switch (data.op) {
    case 'countPrimes':
      return offload.countPrimes(data.n, options)
    case 'describe': {
      const { signal } = options // describe is one pass over memory: no progress to report
      const s = await offload.describe(numbers(data.seed, data.length), { signal })
      return { count: s.count, mean: s.mean, min: s.min, max: s.max }
    }
    case 'hash':
      return offload.hash(data.text, { ...options, algorithm: data.algorithm ?? 'sha256' })
    default:
      throw new Error(`unknown job op ${JSON.stringify(data.op)}`)
  }
}

/** BullMQ's connection options from REDIS_URL (default redis://127.0.0.1:6379). */
function connection() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379')
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null }
}

module.exports = { connection, numbers, run }
