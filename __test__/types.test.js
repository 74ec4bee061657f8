'use strict'

// index.d.ts is checked: a TypeScript file using every export compiles under --strict, and the
// wrong uses marked `@ts-expect-error` in it are rejected (tsc fails on an unneeded one).

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { it } = require('node:test')

// TypeScript 5.x (module resolution 'node') and the current TypeScript 7 (which dropped it;
// 'nodenext' there). Neither is told to load Node's types: index.d.ts must reference them.
const compilers = [
  ['typescript', ['--module', 'commonjs', '--moduleResolution', 'node']],
  ['typescript-7', ['--module', 'nodenext', '--moduleResolution', 'nodenext']],
]

for (const [name, flags] of compilers) {
  const { version } = require(`${name}/package.json`)
  it(`index.d.ts: every export type-checks under ${name} ${version} --strict, and wrong uses are flagged`, { timeout: 120_000 }, () => {
    const tsc = path.join(path.dirname(require.resolve(`${name}/package.json`)), 'bin', 'tsc')
    // `types: []` in a config of its own: the command line cannot give an empty list.
    const dir = fs.mkdtempSync(path.join(__dirname, 'types', '.tsc-'))
    try {
      const compilerOptions = { noEmit: true, strict: true, target: 'es2022', types: [] }
      for (let i = 0; i < flags.length; i += 2) compilerOptions[flags[i].slice(2)] = flags[i + 1]
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['../usage.ts'] }))
      const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', cwd: path.join(__dirname, '..') })
      assert.equal(r.status, 0, r.stdout + r.stderr)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

it('every export appears in the type test', () => {
  const source = require('node:fs').readFileSync(path.join(__dirname, 'types', 'usage.ts'), 'utf8')
  const imported = /import \{([^}]*)\} from '\.\.\/\.\.'/.exec(source)[1].split(',').map((s) => s.trim())
  for (const name of Object.keys(require('..'))) {
    assert.ok(source.includes(`offload.${name}(`) || source.includes(`offload.${name}\n`) || imported.includes(name), `${name} is not used in usage.ts`)
  }
})
