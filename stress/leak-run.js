'use strict'
// The short workload valgrind runs (see valgrind.js): every operation, its failures and aborts.
const { cleanup, run, smallCall } = require('./workload.js')

const rounds = Number(process.argv[2]) || 3
run(smallCall, 16 * 3 * rounds, { concurrency: 4 })
  .then(() => console.log(`leak-run: ${16 * 3 * rounds} calls done`))
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(cleanup)
