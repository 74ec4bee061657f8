'use strict'

// The long fuzz run: `npm run fuzz` (FUZZ_CALLS=n for another count, FUZZ_SEED=s to replay,
// FUZZ_PROGRESS=1 or FUZZ_TRACE=n for diagnostics).
// Same generators and checks as the quick run in `npm test`; see __test__/fuzz-cases.js.

const offload = require('..')
const { cleanup, fuzz } = require('../__test__/fuzz-cases.js')

const CALLS_PER_CASE = 3.5 // the mean of 1 to 6 calls per case
const calls = Number(process.env.FUZZ_CALLS) || 100_000
const seed = process.env.FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED)

async function main() {
  const started = process.hrtime.bigint()
  const before = offload.stats()
  const rssBefore = process.memoryUsage().rss
  const numRuns = Math.ceil(calls / CALLS_PER_CASE)
  console.log(`fuzzing every export: ${numRuns} cases (~${calls} calls), seed ${seed}`)
  await fuzz({ numRuns, seed })
  const after = offload.stats()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const total = ['completed', 'failed', 'cancelled'].reduce((sum, k) => sum + after[k] - before[k], 0)
  console.log(
    `ok: ${total} calls settled (${after.completed - before.completed} resolved, ` +
      `${after.failed - before.failed} rejected, argument checks included, ${after.cancelled - before.cancelled} aborted); ` +
      `${seconds.toFixed(0)} s; ` +
      `rss ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  )
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(cleanup)
