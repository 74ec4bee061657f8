'use strict'

// Runs every ```js example in the README exactly as it stands, each as a file of its own
// (an ES module, so top-level await works as it does for a user), in a fresh Node process,
// with `import ... from 'offload'` resolving to this package (its `exports` make the name
// resolve inside the package, as it does in a user's project once installed).

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { after, it } = require('node:test')

const root = path.join(__dirname, '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

// Inside the package, so that 'offload' and the dev dependencies (sharp) resolve.
const dir = fs.mkdtempSync(path.join(__dirname, '.readme-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

it('the README has examples, each importing what it uses', () => {
  assert.ok(blocks.length >= 10, `${blocks.length} blocks`)
  for (const code of blocks) assert.match(code, /^import /m, `an example without its import line:\n${code}`)
})

blocks.forEach((code, i) => {
  const title = code.split('\n').find((l) => l.trim() && !l.trim().startsWith('//') && !l.startsWith('import ')) ?? ''
  it(`README example ${i + 1} runs as written: ${title.trim().slice(0, 60)}`, { timeout: 120_000 }, () => {
    const file = path.join(dir, `example-${i + 1}.mjs`)
    fs.writeFileSync(file, code)
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8' })
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${code}\n${r.stderr}`)
  })
})
