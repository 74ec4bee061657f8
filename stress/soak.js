'use strict'

// The soak run (`npm run soak`, before the valgrind run): a million small calls of every
// operation and thousands of large ones, resident memory sampled as they go. After a warm-up
// the resident set must stay flat: a leak of even a few hundred bytes per call would add up
// to hundreds of MiB over a million calls. Exits 1 when it grows.
// SOAK_SMALL / SOAK_LARGE set the counts (defaults 1,000,000 and 4,000).

const v8 = require('node:v8')
const vm = require('node:vm')

const offload = require('..')
const { cleanup, largeCall, run, smallCall } = require('./workload.js')

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

const MiB = 2 ** 20
const SMALL = Number(process.env.SOAK_SMALL) || 1_000_000
const LARGE = Number(process.env.SOAK_LARGE) || 4_000
/** Growth allowed after the warm-up: allocator and JIT noise, far below any per-call leak. */
const ALLOWED = { small: 48 * MiB, large: 96 * MiB }

function rss() {
  gc()
  return process.memoryUsage().rss
}

async function phase(name, make, count, concurrency) {
  const samples = []
  const started = process.hrtime.bigint()
  const every = Math.ceil(count / 20)
  await run(make, count, { concurrency, every, sample: (done) => samples.push([done, rss()]) })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  // Warm-up: the first 20% (pools, arenas, JIT and V8's heap reach their working size).
  const settled = samples.filter(([done]) => done > count / 5)
  const base = settled[0][1]
  const peak = Math.max(...settled.map(([, r]) => r))
  const last = settled[settled.length - 1][1]
  console.log(`${name}: ${count} calls in ${seconds.toFixed(1)} s (${Math.round(count / seconds)} calls/s)`)
  console.log(`  rss (MiB) by calls done: ${samples.map(([d, r]) => `${d}:${(r / MiB).toFixed(0)}`).join(' ')}`)
  const growth = peak - base
  console.log(`  after warm-up: ${(base / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)}, last ${(last / MiB).toFixed(1)} (growth ${(growth / MiB).toFixed(1)} MiB, allowed ${ALLOWED[name] / MiB})`)
  return growth <= ALLOWED[name]
}

async function main() {
  console.log(`soak: ${SMALL} small and ${LARGE} large calls; start rss ${(rss() / MiB).toFixed(1)} MiB`)
  const smallOk = await phase('small', smallCall, SMALL, 32)
  const largeOk = await phase('large', largeCall, LARGE, 4)
  const s = offload.stats()
  console.log(`stats: ${s.completed} completed, ${s.failed} failed, ${s.cancelled} cancelled; running ${s.running}, queued ${s.queued}`)
  if (!smallOk || !largeOk) {
    console.error('resident memory grew after the warm-up')
    process.exitCode = 1
  } else {
    console.log('ok: resident memory flat after the warm-up')
  }
}

main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(cleanup)
