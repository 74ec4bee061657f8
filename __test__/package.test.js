'use strict'

// Installing the way users do: `npm pack`, then `npm install <tarball>` into a scratch project,
// offline. The tarball carries the built linux-x64-gnu binary (as napi-rs's per-platform
// packages do), so the scratch project needs no Rust; it require()s and imports offload.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { after, it } = require('node:test')

const root = path.join(__dirname, '..')
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-pack-'))
after(() => fs.rmSync(scratch, { recursive: true, force: true }))

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

it('npm pack, installed offline into another project, works with require and import', { timeout: 300_000 }, () => {
  // --ignore-scripts: the addon is built already; `prepare` would rebuild it.
  const packed = JSON.parse(execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' }))
  const files = packed[0].files.map((f) => f.path)
  const binary = files.find((f) => f.endsWith('.node'))
  assert.ok(binary, `no .node binary in the tarball: ${files}`)
  for (const needed of ['index.js', 'index.d.ts', 'binding.js', 'package.json', 'lib/scheduler.js']) assert.ok(files.includes(needed), needed)
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('target/') || f.startsWith('__test__/')), 'sources stay out')

  const project = path.join(scratch, 'app')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', path.join(scratch, packed[0].filename)], { cwd: project, encoding: 'utf8', stdio: 'pipe' })
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'offload', binary)))

  fs.writeFileSync(
    path.join(project, 'cjs.js'),
    `const offload = require('offload')
     offload.sort(new Float64Array([3, 1, 2])).then((s) => console.log('cjs', Array.from(s).join(',')))`,
  )
  fs.writeFileSync(
    path.join(project, 'esm.mjs'),
    `import offload from 'offload'
     import * as named from 'offload'
     import { countPrimes, hash } from 'offload'
     const missing = Object.keys(offload).filter((k) => named[k] !== offload[k])
     console.log('esm', await countPrimes(1000), (await hash('abc', { algorithm: 'sha256' })).slice(0, 8), 'missing named exports:', missing.length)`,
  )
  const cjs = spawnSync(process.execPath, ['cjs.js'], { cwd: project, encoding: 'utf8' })
  assert.equal(cjs.status, 0, cjs.stderr)
  assert.equal(cjs.stdout.trim(), 'cjs 1,2,3')
  const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: project, encoding: 'utf8' })
  assert.equal(esm.status, 0, esm.stderr)
  assert.equal(esm.stdout.trim(), 'esm 168 ba7816bf missing named exports: 0')
})

it('the napi targets stay ready for per-platform packages', () => {
  const pkg = require('../package.json')
  assert.ok(pkg.napi.targets.includes('x86_64-unknown-linux-gnu'))
  assert.ok(pkg.napi.targets.length >= 4)
  assert.equal(pkg.napi.binaryName, 'offload')
})
