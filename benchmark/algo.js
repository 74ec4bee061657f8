'use strict'

// Algorithms: offload against plain JS, ml-matrix, primesieve (Debian's command) and a
// piscina pool running the plain-JS loop.

const { spawnSync } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const { Piscina } = require('piscina')
const { Matrix } = require('ml-matrix')

const offload = require('..')
const { compare, header } = require('./harness.js')
const plain = require('./plain-algo.js')

const QUICK = Boolean(process.env.BENCH_QUICK)

/** Debian's primesieve command, installed with apt when missing and possible; else null. */
function primesieve() {
  const has = () => spawnSync('primesieve', ['--version']).status === 0
  if (has()) return 'primesieve'
  if (process.getuid?.() === 0) {
    console.log('installing Debian\'s primesieve for the comparison (apt-get install primesieve)...')
    spawnSync('sh', ['-c', 'apt-get install -y -q primesieve >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q primesieve >/dev/null 2>&1)'])
    if (has()) return 'primesieve'
  }
  console.log('primesieve is not installed and could not be installed here: it is left out of the comparison.\n')
  return null
}

async function main() {
  const cores = os.availableParallelism()
  const pool = new Piscina({ filename: path.join(__dirname, 'pool-worker.js'), name: 'mandelbrotRows', minThreads: cores, maxThreads: cores })
  header('Algorithms')
  const ps = primesieve()

  const n = QUICK ? 1e8 : 1e9
  await compare(`countPrimes(${n.toExponential()})`, [
    ['odd-only sieve over a Uint8Array (main thread)', () => plain.countPrimes(n)],
    [`primesieve ${n} --threads=${cores} (a separate process)`, ps && (() => spawnSync(ps, [String(n), `--threads=${cores}`, '-q']))],
    ['offload.countPrimes', () => offload.countPrimes(n)],
  ], { reps: 3 })
  const big = QUICK ? 1e9 : 1e10
  await compare(`countPrimes(${big.toExponential()})`, [
    [`primesieve ${big} --threads=${cores} (a separate process)`, ps && (() => spawnSync(ps, [String(big), `--threads=${cores}`, '-q']))],
    ['offload.countPrimes', () => offload.countPrimes(big)],
  ], { reps: 3 })

  for (const [Kind, label] of [[Float64Array, 'float64'], [Float32Array, 'float32']]) {
    for (const size of QUICK ? [256, 512] : [256, 1024, 2048]) {
      const a = { data: Kind.from({ length: size * size }, () => Math.random() - 0.5), rows: size, cols: size }
      const gflops = (ms) => `${((2 * size ** 3) / 1e6 / ms).toFixed(1)} GFLOPS (${ms.toFixed(1)} ms)`
      const ways = []
      if (Kind === Float64Array && size <= 1024) {
        const ma = new Matrix(size, size)
        for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) ma.set(i, j, a.data[i * size + j])
        ways.push(['plain JS i-k-j loop (main thread)', () => plain.matmul(a.data, a.data, size, size, size)])
        ways.push(['ml-matrix mmul (main thread)', () => ma.mmul(ma)])
      }
      ways.push(['offload.matmul', () => offload.matmul(a, a)])
      await compare(`matmul ${size}x${size} ${label}`, ways, { reps: size >= 1024 && ways.length > 1 ? 3 : 5, unit: gflops })
    }
  }

  const view = QUICK ? { width: 640, height: 360, maxIterations: 1000 } : { width: 1920, height: 1080, maxIterations: 1000 }
  await compare(`mandelbrot ${view.width}x${view.height}, ${view.maxIterations} iterations`, [
    ['plain JS escape loop (main thread)', () => plain.mandelbrot(view)],
    [`piscina (${cores} workers, rows interleaved in bands)`, async () => {
      const band = 16
      const jobs = []
      for (let from = 0; from < view.height; from += band) {
        jobs.push(pool.run({ view, from, to: Math.min(view.height, from + band) }, { name: 'mandelbrotRows' }))
      }
      return Promise.all(jobs)
    }],
    ['offload.mandelbrot', () => offload.mandelbrot(view)],
  ], { reps: 3 })
  await pool.destroy()
}

module.exports = main
if (require.main === module) main()
