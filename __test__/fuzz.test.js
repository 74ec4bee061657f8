'use strict'

// The quick fuzz run: a few thousand hostile calls over every export (stress/fuzz.js runs
// 100,000 or more with `npm run fuzz`). See fuzz-cases.js for what is generated and checked.

const assert = require('node:assert/strict')
const { after, it } = require('node:test')

const offload = require('..')
const { CALLS, cleanup, fuzz } = require('./fuzz-cases.js')

after(cleanup)

it('every export is fuzzed', () => {
  // configure and stats are synchronous (configureCase fuzzes configure); the stream factories
  // return streams and throw on bad options as zlib's do (compress.test.js covers them);
  // needsRehash only reads a string (password.test.js fuzzes it).
  const synchronous = ['configure', 'stats', 'AbortError', 'createCompressStream', 'createDecompressStream', 'needsRehash']
  const exported = Object.keys(offload).filter((k) => typeof offload[k] === 'function' && !synchronous.includes(k))
  assert.deepEqual(Object.keys(CALLS).sort(), exported.sort())
})

it('hostile arguments: every call settles with a value or a coded error, none throws or hangs', { timeout: 600_000 }, async () => {
  // About 1,000 cases of 1 to 6 calls: some 3,500 calls. A failure prints its seed and path.
  await fuzz({ numRuns: Number(process.env.FUZZ_RUNS) || 1000 })
  // An aborted call settles at once; its kernel gives the slot back within milliseconds.
  for (let i = 0; i < 100 && offload.stats().running > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  const s = offload.stats()
  assert.equal(s.running + s.queued + s.inFlight, 0)
})
