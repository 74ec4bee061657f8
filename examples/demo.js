'use strict'

// `npm run demo`: one data-crunching workload (sort, describe, quantiles and a histogram of
// 20 million request latencies) done three ways while a 10 ms timer keeps ticking:
//   1. plain JavaScript on the main thread,
//   2. the same JavaScript in a worker_threads pool (piscina),
//   3. offload.
// For each way it prints the wall time, the results (the same for all three), and how late
// the timer fired: the event-loop delay every other request in this process would feel.
// Then it renders the Mandelbrot set to examples/mandelbrot.png.

const os = require('node:os')
const path = require('node:path')
const { Piscina } = require('piscina')

const offload = require('..')
const plain = require('../benchmark/plain.js')

const N = Number(process.env.DEMO_N) || 20_000_000
const PROBS = [0.5, 0.9, 0.99, 0.999]
const BINS = 20

/** Log-normal latencies in ms, in shared memory so the worker pool reads them without a copy. */
function latencies(n) {
  const a = new Float64Array(new SharedArrayBuffer(n * 8))
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - Math.random()))
    const t = 2 * Math.PI * Math.random()
    a[i] = Math.exp(3 + 0.6 * r * Math.cos(t))
    if (i + 1 < n) a[i + 1] = Math.exp(3 + 0.6 * r * Math.sin(t))
  }
  return a
}

/** A 10 ms ticker that records how late each tick fires, and shows progress. */
function ticker(label) {
  const lateness = []
  const start = performance.now()
  const tty = process.stdout.isTTY
  let expected = start + 10
  let shown = 0
  if (!tty) console.log(`  running: ${label}...`)
  const timer = setInterval(() => {
    const now = performance.now()
    lateness.push(Math.max(0, now - expected))
    expected = now + 10
    if (tty && now - shown >= 100) {
      shown = now
      process.stdout.write(`\r  ${label}: ${((now - start) / 1000).toFixed(1)} s, timer ticks: ${lateness.length}   `)
    }
  }, 10)
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 15)) // let a blocked tick report how late it was
      clearInterval(timer)
      if (tty) process.stdout.write('\r\x1b[K')
      const s = lateness.sort((a, b) => a - b)
      const at = (q) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0)
      return { ticks: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : 0 }
    },
  }
}

async function timed(label, work) {
  const tick = ticker(label)
  await new Promise((r) => setTimeout(r, 30)) // a few idle ticks first
  const t0 = performance.now()
  const result = await work()
  const ms = performance.now() - t0
  return { label, ms, result, delay: await tick.stop() }
}

async function main() {
  console.log(`offload demo: ${N.toLocaleString()} latencies (float64), ${os.availableParallelism()} cores\n`)
  const data = latencies(N)
  const cores = os.availableParallelism()
  const pool = new Piscina({ filename: path.join(__dirname, '..', 'benchmark', 'pool-worker.js'), minThreads: cores, maxThreads: cores })
  const whole = { buffer: data.buffer, start: 0, end: N }

  const ways = []
  ways.push(
    await timed('plain JS, main thread', () => {
      const sorted = plain.sort(data)
      const stats = plain.finishDescribe([plain.describe(data)])
      const q = plain.quantiles(data, PROBS)
      const h = plain.histogram(data, BINS)
      return { sorted, stats, q, counts: h.counts }
    }),
  )
  ways.push(
    await timed('same JS, worker pool', async () => {
      const [sorted, part, q, range] = await Promise.all([
        pool.run({ op: 'sort', ...whole }),
        pool.run({ op: 'describe', ...whole }),
        pool.run({ op: 'quantiles', ...whole, probs: PROBS }),
        pool.run({ op: 'range', ...whole }),
      ])
      const counts = await pool.run({ op: 'count', ...whole, edges: plain.edgesFor(range[0], range[1], BINS) })
      return { sorted, stats: plain.finishDescribe([part]), q, counts }
    }),
  )
  ways.push(
    await timed('offload', async () => {
      const [sorted, stats, q, h] = await Promise.all([
        offload.sort(data),
        offload.describe(data),
        offload.quantiles(data, PROBS),
        offload.histogram(data, { bins: BINS }),
      ])
      return { sorted, stats, q, counts: h.counts }
    }),
  )
  await pool.destroy()
  console.log()

  const fmt = (x) => x.toFixed(2)
  for (const w of ways) {
    const { stats, q, counts } = w.result
    console.log(`${w.label}`)
    console.log(`  wall time            ${w.ms.toFixed(0)} ms`)
    console.log(
      `  timer lateness       p50 ${w.delay.p50.toFixed(1)} ms, p99 ${w.delay.p99.toFixed(1)} ms, max ${w.delay.max.toFixed(1)} ms (${w.delay.ticks} ticks)`,
    )
    console.log(`  mean / stddev        ${fmt(stats.mean)} / ${fmt(stats.stddev)} ms, min ${fmt(stats.min)}, max ${fmt(stats.max)}`)
    console.log(`  p50 / p90 / p99 / p99.9  ${Array.from(q, fmt).join(' / ')} ms`)
    console.log(`  histogram            ${Array.from(counts.slice(0, 8)).join(' ')} ...`)
    console.log()
  }

  // The three ways must agree.
  const [a, b, c] = ways.map((w) => w.result)
  const same = (x, y) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]))
  const close = (x, y) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y))
  const agree =
    same(a.sorted, b.sorted) &&
    same(a.sorted, c.sorted) &&
    same(a.q, b.q) &&
    same(a.q, c.q) &&
    same(a.counts, b.counts) &&
    same(a.counts, c.counts) &&
    ['count', 'min', 'max', 'mean', 'variance'].every((k) => close(b.stats[k], a.stats[k]) && close(c.stats[k], a.stats[k]))
  console.log(agree ? 'All three ways give the same results.' : 'MISMATCH between the ways: please report this.')
  const [js, , off] = ways
  console.log(
    `offload: ${(js.ms / off.ms).toFixed(1)}x faster than plain JS, with the timer late by at most ${off.delay.max.toFixed(1)} ms ` +
      `(plain JS: ${js.delay.max.toFixed(0)} ms).`,
  )
  if (!agree) process.exitCode = 1

  // And a picture: the Mandelbrot set, rendered by offload.
  const { file, ms, view } = await require('./mandelbrot.js').render()
  console.log(`\nMandelbrot set ${view.width}x${view.height}, ${view.maxIterations} iterations: ${ms.toFixed(0)} ms with offload.mandelbrot -> ${path.relative(process.cwd(), file)}`)
}

main()
