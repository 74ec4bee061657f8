'use strict'

// Runs every ```js example in the README as written, so the documentation cannot drift from
// the code. Each block runs in its own async function, from the repository root, with
// `require('offload')` resolving to this package and its exports also in scope (blocks may
// leave out the require line for brevity).

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { it } = require('node:test')

const offload = require('..')

const root = path.join(__dirname, '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

const AsyncFunction = (async () => {}).constructor
const localRequire = (name) => (name === 'offload' ? offload : require(name))
const names = Object.keys(offload)

it('the README has examples', () => assert.ok(blocks.length >= 8, `${blocks.length} blocks`))

blocks.forEach((code, i) => {
  const title = code.split('\n').find((l) => l.trim() && !l.trim().startsWith('//')) ?? ''
  it(`README example ${i + 1} runs: ${title.trim().slice(0, 60)}`, async () => {
    const cwd = process.cwd()
    process.chdir(root)
    try {
      // the inner block lets the example redeclare names that are also parameters
      const run = new AsyncFunction('require', ...names, `{\n${code}\n}`)
      await run(localRequire, ...names.map((n) => offload[n]))
    } finally {
      process.chdir(cwd)
      offload.configure({ threads: require('node:os').availableParallelism(), maxInFlight: 2, maxQueue: Infinity })
    }
  })
})
