'use strict'

// The platforms beyond this machine's: the musl build (Alpine) is built here and checked for
// glibc symbols; the arm64 and Node-version runners' test lists name files that exist.
// (`npm run test:arm64` and `npm run test:versions` run them; .ci/run does both.)

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { it } = require('node:test')

const root = path.join(__dirname, '..')
const musl = require('../scripts/musl.js')
const { CORE } = require('../scripts/node-versions.js')

const canBuildMusl = process.platform === 'linux' && process.arch === 'x64' && spawnSync('cargo', ['--version']).status === 0

it('the linux-x64-musl addon builds and links no glibc symbol', { skip: !canBuildMusl && 'needs Linux x64 and cargo', timeout: 1_200_000 }, () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'musl.js')], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr.slice(-4000))
  const lib = path.join(root, 'target', 'x86_64-unknown-linux-musl', 'debug', 'liboffload.so')
  const { needed, glibc } = musl.linkage(lib)
  assert.deepEqual(glibc, [])
  assert.ok(needed.includes('libc.so'), needed.join(', '))
  assert.ok(!needed.some((n) => n.startsWith('libc.so.6')), needed.join(', '))
  // The napi entry point is exported, as Node looks it up when it loads the addon.
  const symbols = spawnSync('readelf', ['--dyn-syms', '-W', lib], { encoding: 'utf8' }).stdout
  assert.match(symbols, /\bnapi_register_module_v1\b/)
})

it('the check refuses a glibc library', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  // This machine's own addon is a glibc build: the musl check must say so.
  const gnu = fs.readdirSync(root).find((f) => /^offload\.linux-.*-gnu\.node$/.test(f) && !f.includes('arm64'))
  if (!gnu) return
  assert.throws(() => musl.check(path.join(root, gnu)), /glibc/)
})

it('the Node-version and arm64 runners name test files that exist', () => {
  const { TESTS } = require('../scripts/arm64.js')
  assert.ok(TESTS.length >= 10 && CORE.length >= 10)
  for (const file of [...CORE, ...TESTS]) {
    assert.ok(fs.existsSync(path.join(root, file)), file)
  }
})
