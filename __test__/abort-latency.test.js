'use strict'

// An abort stops every operation's kernel, at any point of a long call: the call's slot
// (stats().running) is free long before the kernel would have ended. Each operation runs to
// its end twice to learn how long it takes here, then is aborted at 20%, 50% and 80% of that
// time. The bounds are generous (a shared 2-vCPU machine can give one core, or less): they
// prove that the kernel stopped, not how fast. The milliseconds themselves (about 10 here)
// are measured by `npm run bench -- abort` and printed with the README's table.

const assert = require('node:assert/strict')
const { after, describe, it } = require('node:test')

const offload = require('..')
const { cleanup, longCalls, measureStops } = require('./fixtures/long-calls.js')

// This thread busy-polls (setImmediate) to time each stop. With the pool niced (the default
// niceIncrement 10), a pool thread sharing a vCPU with it gets a tenth of that vCPU: measured
// at equal priority.
offload.configure({ niceIncrement: 0 })

after(cleanup)

describe('an abort stops every operation\'s kernel long before its end', { concurrency: 1 }, () => {
  for (const [name, make] of Object.entries(longCalls)) {
    it(name, { timeout: 180_000 }, async () => {
      const { full, stops } = await measureStops(make())
      assert.ok(stops.length >= 2, `${name} (${full.toFixed(0)} ms) ended before most aborts`)
      const shown = stops.map((s) => `${s.ms.toFixed(1)} ms at ${(s.share * 100).toFixed(0)}%`).join(', ')
      for (const { share, ms } of stops) {
        // A kernel that ran on would take the rest of its run, (1 - share) of `full`, and more
        // on a busy machine: stopping within half of that, or within 250 ms, is stopping.
        const bound = Math.max(250, 0.5 * (1 - share) * full)
        assert.ok(ms <= bound, `${name}: stopped ${shown} after abort (full run ${full.toFixed(0)} ms)`)
      }
    })
  }
})
