'use strict'

// Calls of every operation, small and large, for the soak and leak runs: each returns a
// Promise that checks its own result. Failures and aborts are part of the mix on purpose.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const offload = require('..')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-soak-'))
const smallFile = path.join(tmp, 'small.bin')
fs.writeFileSync(smallFile, crypto.randomBytes(4096))
const bigFile = path.join(tmp, 'big.bin')
fs.writeFileSync(bigFile, crypto.randomBytes(16 * 2 ** 20))

function check(ok, what) {
  if (!ok) throw new Error(`wrong result: ${what}`)
}

const small = {
  floats: Float64Array.from({ length: 64 }, (_, i) => Math.sin(i)),
  ints: Int32Array.from({ length: 64 }, (_, i) => (i * 7919) % 1000),
  image: { data: new Uint8Array(16 * 16 * 4).fill(120), width: 16, height: 16 },
  matrix: { data: new Float32Array(16).fill(1), rows: 4, cols: 4 },
}

/** A small call of kind `i % 16`: about the per-call overhead, not the work. */
function smallCall(i) {
  const s = small
  switch (i % 16) {
    case 0: return offload.sort(s.floats).then((r) => check(r[0] <= r[63], 'sort'))
    case 1: return offload.argsort(s.ints).then((r) => check(r.length === 64, 'argsort'))
    case 2: return offload.describe(s.floats).then((r) => check(r.count === 64, 'describe'))
    case 3: return offload.quantiles(s.ints, [0.5]).then((r) => check(r.length === 1, 'quantiles'))
    case 4: return offload.histogram(s.floats, { bins: 8 }).then((r) => check(r.counts.length === 8, 'histogram'))
    case 5: return offload.hash(`call ${i}`).then((r) => check(r.length === 64, 'hash'))
    case 6: return offload.hashMany(['a', 'b', s.ints], { algorithm: 'xxh3-64' }).then((r) => check(r.length === 3, 'hashMany'))
    case 7: return offload.hashFile(smallFile, { algorithm: 'sha256' }).then((r) => check(r.length === 64, 'hashFile'))
    case 8: return offload.countPrimes(1000).then((r) => check(r === 168, 'countPrimes'))
    case 9: return offload.primes(100).then((r) => check(r.length === 25, 'primes'))
    case 10: return offload.matmul(s.matrix, s.matrix).then((r) => check(r.data[0] === 4, 'matmul'))
    case 11: return offload.mandelbrot({ width: 8, height: 8, maxIterations: 50 }).then((r) => check(r.length === 64, 'mandelbrot'))
    case 12: return offload.grayscale(s.image).then((r) => check(r.data[0] === 120, 'grayscale'))
    case 13: return offload.blur(s.image, { sigma: 1 }).then((r) => check(r.data.length === 1024, 'blur'))
    case 14: return offload.resize(s.image, { width: 8 }).then((r) => check(r.width === 8, 'resize'))
    default: {
      // Failures: a bad argument, a missing file, an aborted call.
      const which = Math.floor(i / 16) % 3
      if (which === 0) return offload.sort('nope').then(() => check(false, 'bad argument'), (e) => check(e.code === 'ERR_INVALID_ARG_TYPE', 'bad argument'))
      if (which === 1) return offload.hashFile(path.join(tmp, 'missing')).then(() => check(false, 'missing file'), (e) => check(e.code === 'ENOENT', 'missing file'))
      return offload.countPrimes(1e12, { signal: AbortSignal.timeout(1) }).then(() => check(false, 'abort'), (e) => check(e.name === 'AbortError', 'abort'))
    }
  }
}

const large = {
  floats: Float64Array.from({ length: 1_000_000 }, (_, i) => Math.sin(i) * 1e3),
  bytes: crypto.randomBytes(16 * 2 ** 20),
  image: { data: crypto.randomBytes(1024 * 1024 * 4), width: 1024, height: 1024 },
  matrix: { data: new Float64Array(256 * 256).fill(0.5), rows: 256, cols: 256 },
}

/** A large call of kind `i % 8`: megabytes in and out. */
function largeCall(i) {
  const l = large
  switch (i % 8) {
    case 0: return offload.sort(l.floats).then((r) => check(r.length === 1e6 && r[0] <= r[1], 'sort'))
    case 1: return offload.argsort(l.floats).then((r) => check(r.length === 1e6, 'argsort'))
    case 2: return offload.hash(l.bytes, { algorithm: 'blake3' }).then((r) => check(r.length === 64, 'hash'))
    case 3: return offload.hashFile(bigFile, { algorithm: 'xxh3-128' }).then((r) => check(r.length === 32, 'hashFile'))
    case 4: return offload.blur(l.image, { sigma: 2 }).then((r) => check(r.data.length === l.image.data.length, 'blur'))
    case 5: return offload.resize(l.image, { width: 700 }).then((r) => check(r.width === 700, 'resize'))
    case 6: return offload.matmul(l.matrix, l.matrix).then((r) => check(r.data[0] === 64, 'matmul'))
    default: return offload.primes(5e6).then((r) => check(r.length === 348513, 'primes'))
  }
}

/** Runs `count` calls made by `make`, `concurrency` at a time; calls `sample(done)` every `every`. */
async function run(make, count, { concurrency = 32, every = count, sample = () => {} } = {}) {
  let next = 0
  let done = 0
  async function lane() {
    while (next < count) {
      const i = next++
      await make(i)
      done++
      if (done % every === 0) sample(done)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
}

function cleanup() {
  fs.rmSync(tmp, { recursive: true, force: true })
}

module.exports = { cleanup, largeCall, run, smallCall }
