'use strict'

// Data crunching: offload against the best plain-JS way on the main thread, the best npm
// package where there is one, and a piscina worker pool running the plain-JS way.

const os = require('node:os')
const path = require('node:path')
const { Piscina } = require('piscina')
const d3 = require('d3-array')
const ss = require('simple-statistics')

const offload = require('..')
const binding = require('../binding.js')
const { compare, header, idleDelay } = require('./harness.js')
const plain = require('./plain.js')

const SMALL = process.env.BENCH_QUICK ? 10 : 1 // BENCH_QUICK=1 runs a tenth of the sizes

function shared(n, fill) {
  const a = new Float64Array(new SharedArrayBuffer(n * 8))
  for (let i = 0; i < n; i++) a[i] = fill(i)
  return a
}

async function main() {
  const cores = os.availableParallelism()
  const pool = new Piscina({ filename: path.join(__dirname, 'pool-worker.js'), minThreads: cores, maxThreads: cores })
  const workers = pool.options.maxThreads
  // Splits [0, n) into one part per pool thread and runs `op` on each.
  const split = (values, op, extra = {}) => {
    const n = values.length
    const step = Math.ceil(n / workers)
    return Promise.all(
      Array.from({ length: workers }, (_, w) =>
        pool.run({ op, buffer: values.buffer, start: w * step, end: Math.min(n, (w + 1) * step), ...extra }),
      ),
    )
  }

  header('Data crunching')
  console.log(`event-loop delay p99 when idle: ${(await idleDelay()).toFixed(1)} ms; piscina threads: ${workers}\n`)

  const n10 = 10_000_000 / SMALL
  const f64 = shared(n10, () => Math.random() * 2e6 - 1e6)
  const i32 = Int32Array.from({ length: n10 }, () => (Math.random() * 2 ** 32) | 0)
  await compare(`sort ${n10 / 1e6}M float64`, [
    ['Float64Array.prototype.sort (main thread)', () => plain.sort(f64)],
    ['piscina (the same sort in a worker)', () => pool.run({ op: 'sort', buffer: f64.buffer, start: 0, end: n10 })],
    ['offload.sort', () => offload.sort(f64)],
  ], { reps: 3 })
  await compare(`sort ${n10 / 1e6}M int32`, [
    ['Int32Array.prototype.sort (main thread)', () => i32.slice().sort()],
    ['offload.sort', () => offload.sort(i32)],
  ], { reps: 3 })
  await compare(`argsort ${n10 / 1e6}M float64`, [
    ['indices + Array.prototype.sort by value', () => {
      const idx = Array.from({ length: f64.length }, (_, i) => i)
      return idx.sort((a, b) => f64[a] - f64[b])
    }],
    ['offload.argsort', () => offload.argsort(f64)],
  ], { reps: 1 })

  const n100 = 100_000_000 / SMALL
  const big = shared(n100, () => Math.random() * 100)
  await compare(`describe ${n100 / 1e6}M float64`, [
    ['one-pass JS loop, compensated sum (main thread)', () => plain.finishDescribe([plain.describe(big)])],
    ['simple-statistics (mean, variance, min, max)', () => [ss.mean(big), ss.variance(big), ss.min(big), ss.max(big)]],
    [`piscina (${workers} workers, shared memory)`, async () => plain.finishDescribe(await split(big, 'describe'))],
    ['offload.describe', () => offload.describe(big)],
  ])
  await compare(`histogram ${n100 / 1e6}M float64, 256 bins`, [
    ['two JS loops, 4 sub-histograms (main thread)', () => plain.histogram(big, 256)],
    [`piscina (${workers} workers, shared memory)`, async () => {
      const ranges = await split(big, 'range')
      const edges = plain.edgesFor(Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1])), 256)
      const parts = await split(big, 'count', { edges })
      return parts.reduce((acc, c) => acc.map((x, i) => x + c[i]))
    }],
    ['offload.histogram', () => offload.histogram(big, { bins: 256 })],
  ])
  const probs = [0.01, 0.25, 0.5, 0.75, 0.99]
  await compare(`quantiles ${n10 / 1e6}M float64, 5 probabilities`, [
    ['quickselect on a copy (main thread)', () => plain.quantiles(f64, probs)],
    ['d3-array quantile (one call per probability)', () => probs.map((p) => d3.quantile(f64, p))],
    ['piscina (quickselect in a worker)', () => pool.run({ op: 'quantiles', buffer: f64.buffer, start: 0, end: n10, probs })],
    ['offload.quantiles', () => offload.quantiles(f64, probs)],
  ])

  const one = new Float64Array([1])
  const calls = 20_000 / SMALL
  const perCall = (fn) => async () => {
    for (let i = 0; i < calls; i++) await fn()
  }
  const rows = await compare(`per-call overhead, 1-element array, ${calls} calls awaited one after another`, [
    ['piscina round trip (no-op task)', perCall(() => pool.run({ op: 'noop' }))],
    ['bare napi AsyncTask (binding, no JS front)', perCall(() => binding.describe(one, 0, new binding.CancelToken()))],
    ['offload.describe (full API)', perCall(() => offload.describe(one))],
  ], { reps: 3, unit: (ms) => `${((ms * 1000) / calls).toFixed(1)} µs/call` })
  void rows
  await pool.destroy()
}

module.exports = main
if (require.main === module) main()
