'use strict'

// An abort stops every operation's kernel promptly, at any point of a long call: the call's
// slot (stats().running) is free within milliseconds, not when the kernel would have ended.
// Each operation runs to its end twice to learn how long it takes here (the faster run counts),
// then is aborted at 20%, 50% and 80% of that time.

const assert = require('node:assert/strict')
const { after, describe, it } = require('node:test')

const offload = require('..')
const { cleanup, longCalls } = require('./fixtures/long-calls.js')

// This thread busy-polls (setImmediate) to time each stop. With the pool niced (the default
// niceIncrement 10), a pool thread sharing a vCPU with it gets a tenth of that vCPU, so the
// measurement would be of the scheduler's weights, not of how often the kernels poll their
// flag: measured at equal priority.
offload.configure({ niceIncrement: 0 })

after(cleanup)

// The target is 10 ms; the bound leaves room for a busy shared machine (2 vCPUs that at times
// give one), while a kernel that ran on to its end would take hundreds of milliseconds more.
const MEDIAN_BOUND_MS = 40
const EACH_BOUND_MS = 150

const tick = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Milliseconds from abort() until this thread has no call running. */
async function stopAfter(call, delay) {
  const controller = new AbortController()
  const settled = call(controller.signal).then(
    () => 'resolved',
    (e) => e,
  )
  await sleep(delay)
  if (offload.stats().running === 0) return undefined // ended before the abort: no measurement
  const aborted = performance.now()
  controller.abort()
  while (offload.stats().running > 0) await tick()
  const stopped = performance.now() - aborted
  const outcome = await settled
  assert.equal(outcome.name, 'AbortError', `aborted call settled with ${outcome}`)
  return stopped
}

describe('abort frees the slot within milliseconds, for every operation', { concurrency: 1 }, () => {
  for (const [name, make] of Object.entries(longCalls)) {
    it(name, { timeout: 120_000 }, async () => {
      const call = make()
      // Run times vary (a first run pays for fresh pages; a busy machine, for page faults
      // behind other work), up to 2x here: the aborts are placed by the faster of two runs,
      // so that they land while the call still runs.
      let full = Infinity
      for (let run = 0; run < 2; run++) {
        const t0 = performance.now()
        await call(undefined)
        full = Math.min(full, performance.now() - t0)
      }
      const stops = []
      for (const share of [0.2, 0.5, 0.8]) {
        // A call that ended before its abort (a faster run than the timed ones) is tried again
        // with the abort sooner.
        for (let delay = full * share; delay >= 1; delay /= 2) {
          const stop = await stopAfter(call, Math.round(delay))
          if (stop !== undefined) {
            stops.push(stop)
            break
          }
        }
      }
      assert.ok(stops.length >= 2, `${name} (${full.toFixed(0)} ms) ended before most aborts`)
      stops.sort((a, b) => a - b)
      const median = stops[Math.floor(stops.length / 2)]
      const shown = stops.map((s) => s.toFixed(1)).join(', ')
      assert.ok(median <= MEDIAN_BOUND_MS, `${name}: stopped ${shown} ms after abort (full run ${full.toFixed(0)} ms)`)
      assert.ok(stops.at(-1) <= EACH_BOUND_MS, `${name}: stopped ${shown} ms after abort (full run ${full.toFixed(0)} ms)`)
    })
  }
})
