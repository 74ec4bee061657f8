'use strict'

// Measures each way of doing a job side by side on the same data: median wall time over a few
// runs, the cores it actually got (process CPU time / wall time), and the event-loop delay
// p99 while it ran. Prints ratios against the first row of each group.

const os = require('node:os')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const REPS = Number(process.env.BENCH_REPS) || 5

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Runs `fn` (sync or async) `reps` times; returns medians. */
async function measure(fn, reps = REPS) {
  await fn() // warm-up
  const walls = []
  const cores = []
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  // The monitor measures each tick from the one before: let a first tick happen, or a
  // single blocking run would go unrecorded.
  await new Promise((r) => setTimeout(r, 5))
  for (let i = 0; i < reps; i++) {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await fn()
    const wall = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    walls.push(wall)
    cores.push((cpu.user + cpu.system) / 1000 / wall)
    // let a timer that a blocking run delayed fire, so the delay is recorded
    await new Promise((r) => setTimeout(r, 2))
  }
  delay.disable()
  return { ms: median(walls), cores: median(cores), p99: delay.percentile(99) / 1e6 }
}

/** Event-loop delay p99 with nothing running, for reference. */
async function idleDelay(ms = 300) {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  await new Promise((r) => setTimeout(r, ms))
  delay.disable()
  return delay.percentile(99) / 1e6
}

function header(title) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  console.log(`\n## ${title}`)
  console.log(`${cpu}, ${os.availableParallelism()} cores, Node ${process.version}, ${REPS} runs each (median)\n`)
}

/**
 * Measures each [label, fn] in `ways` and prints one table. The first way is the baseline:
 * `speed-up` is its time divided by each row's.
 */
async function compare(title, ways, { reps = REPS, unit } = {}) {
  const rows = []
  for (const [label, fn] of ways) {
    if (!fn) {
      rows.push({ label, skipped: true })
      continue
    }
    rows.push({ label, ...(await measure(fn, reps)) })
  }
  const base = rows.find((r) => !r.skipped)
  console.log(`| ${title} | median | speed-up | cores used | loop delay p99 |`)
  console.log('|---|---:|---:|---:|---:|')
  for (const r of rows) {
    if (r.skipped) {
      console.log(`| ${r.label} | not available | | | |`)
      continue
    }
    const time = unit ? unit(r.ms) : `${r.ms.toFixed(1)} ms`
    console.log(`| ${r.label} | ${time} | ${(base.ms / r.ms).toFixed(1)}x | ${r.cores.toFixed(2)} | ${r.p99.toFixed(1)} ms |`)
  }
  console.log()
  return rows
}

module.exports = { compare, header, idleDelay, measure, median }
