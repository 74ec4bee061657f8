'use strict'

// `npm run bench -- abort`: how many milliseconds after abort() each operation's slot is free
// (its kernel stopped), aborted at 20%, 50% and 80% of a full run. The test suite checks only
// that kernels stop (abort-latency.test.js, with generous bounds); the figures are here.

const os = require('node:os')

const offload = require('..')
const { cleanup, longCalls, measureStops } = require('../__test__/fixtures/long-calls.js')

async function run() {
  // Measured at equal priority: this thread busy-polls to time each stop (see the test).
  const before = offload.configure({}).niceIncrement
  offload.configure({ niceIncrement: 0 })
  console.log(`\n## Abort latency (${os.cpus()[0]?.model}, ${os.availableParallelism()} cores)\n`)
  console.log('| operation | full run | stop after abort (20%, 50%, 80%) | median |')
  console.log('|---|---:|---|---:|')
  try {
    for (const [name, make] of Object.entries(longCalls)) {
      const { full, stops } = await measureStops(make())
      const ms = stops.map((s) => s.ms).sort((a, b) => a - b)
      const median = ms[Math.floor(ms.length / 2)]
      const shown = stops.map((s) => s.ms.toFixed(1)).join(', ')
      console.log(`| ${name} | ${full.toFixed(0)} ms | ${shown} ms | ${median?.toFixed(1)} ms |`)
    }
  } finally {
    offload.configure({ niceIncrement: before })
    cleanup()
  }
}

module.exports = run
if (require.main === module) run()
