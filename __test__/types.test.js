'use strict'

// index.d.ts is checked: a TypeScript file using every export compiles under --strict, and the
// wrong uses marked `@ts-expect-error` in it are rejected (tsc fails on an unneeded one).

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { it } = require('node:test')

it('index.d.ts: every export type-checks under tsc --strict, and wrong uses are flagged', { timeout: 120_000 }, () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const file = path.join(__dirname, 'types', 'usage.ts')
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node', '--types', 'node', file],
    { encoding: 'utf8', cwd: path.join(__dirname, '..') },
  )
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

it('every export appears in the type test', () => {
  const source = require('node:fs').readFileSync(path.join(__dirname, 'types', 'usage.ts'), 'utf8')
  const imported = /import \{([^}]*)\} from '\.\.\/\.\.'/.exec(source)[1].split(',').map((s) => s.trim())
  for (const name of Object.keys(require('..'))) {
    assert.ok(source.includes(`offload.${name}(`) || imported.includes(name), `${name} is not used in usage.ts`)
  }
})
