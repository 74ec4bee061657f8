'use strict'

// Installing the way users do, with no Rust: the release steps of the napi CLI (artifacts,
// pre-publish) make the main package and the linux-x64-gnu platform package from this build;
// both are packed, installed offline into a scratch project whose PATH has no cargo, then
// required and imported. Without the platform package, require() fails with one clear error.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { after, before, describe, it } = require('node:test')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-pack-'))
after(() => fs.rmSync(scratch, { recursive: true, force: true }))

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const TARGET = 'linux-x64-gnu'
const BINARY = `offload.${TARGET}.node`

// A PATH with node and npm but without cargo or rustc: what a user's machine has.
const bin = path.join(scratch, 'bin')
fs.mkdirSync(bin)
fs.symlinkSync(process.execPath, path.join(bin, 'node'))
const toolFree = [bin, ...process.env.PATH.split(path.delimiter).filter((dir) => !['cargo', 'rustc'].some((t) => fs.existsSync(path.join(dir, t))))]
const userEnv = { ...process.env, PATH: toolFree.join(path.delimiter) }

function run(command, args, cwd, env = process.env) {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: 'pipe' })
}

const tarballs = {}

function stageRelease() {
  // The release's staging folder: the packed files, the npm/ platform folders, the binary as
  // CI would download it into artifacts/.
  const stage = path.join(scratch, 'stage')
  fs.mkdirSync(path.join(stage, 'artifacts'), { recursive: true })
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'lib', 'npm']) {
    fs.cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true })
  }
  fs.copyFileSync(path.join(root, BINARY), path.join(stage, 'artifacts', BINARY))
  // This machine builds one of the targets: the CLI is given that one.
  const config = path.join(scratch, 'napi.json')
  fs.writeFileSync(config, JSON.stringify({ binaryName: pkg.napi.binaryName, targets: ['x86_64-unknown-linux-gnu'] }))
  run(process.execPath, [napi, 'artifacts', '-c', config, '-d', 'artifacts'], stage)
  run('git', ['init', '-q'], stage)
  run('git', ['add', '-A'], stage)
  run('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', 'commit', '-qm', 'stage'], stage)
  run(process.execPath, [napi, 'pre-publish', '-c', config, '-t', 'npm', '--skip-optional-publish'], stage)
  fs.rmSync(path.join(stage, 'artifacts'), { recursive: true })

  for (const [name, dir] of [['main', stage], ['platform', path.join(stage, 'npm', TARGET)]]) {
    const [packed] = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], dir))
    tarballs[name] = { file: path.join(scratch, packed.filename), files: packed.files.map((f) => f.path) }
  }
  tarballs.mainJson = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'))
  tarballs.platformJson = JSON.parse(fs.readFileSync(path.join(stage, 'npm', TARGET, 'package.json'), 'utf8'))
}

function project(name, packages) {
  const dir = path.join(scratch, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  run(npm, ['install', '--offline', '--no-audit', '--no-fund', ...packages], dir, userEnv)
  return dir
}

// The staging steps use this machine's binary: linux-x64-gnu (the release workflow runs the
// other suites on the other platforms).
const skip = process.platform === 'linux' && process.arch === 'x64' ? false : 'stages the linux-x64-gnu package only'

describe('the published packages', { skip, timeout: 600_000 }, () => {
  before(stageRelease, { timeout: 300_000 })

  it('the main package holds the JS and types, no binary, and names the platform packages', () => {
    const { files } = tarballs.main
    for (const needed of ['index.js', 'index.d.ts', 'binding.js', 'package.json', 'lib/native.js', 'lib/scheduler.js', 'LICENSE', 'README.md']) {
      assert.ok(files.includes(needed), needed)
    }
    assert.ok(!files.some((f) => f.endsWith('.node')), `a binary in the main package: ${files}`)
    assert.ok(!files.some((f) => /^(src|target|__test__|npm)\//.test(f)), 'sources stay out')
    assert.equal(tarballs.mainJson.optionalDependencies[`offload-${TARGET}`], pkg.version)
    assert.ok(pkg.repository && pkg.description && pkg.license === 'MIT')
  })

  it('the platform package holds the binary and says which platform it is for', () => {
    assert.deepEqual(tarballs.platform.files.sort(), ['README.md', BINARY, 'package.json'].sort())
    const p = tarballs.platformJson
    assert.equal(p.name, `offload-${TARGET}`)
    assert.deepEqual([p.os, p.cpu, p.libc], [['linux'], ['x64'], ['glibc']])
    assert.equal(p.version, pkg.version)
  })

  it('every napi target has its platform folder in npm/', () => {
    const dirs = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']
    for (const dir of dirs) {
      const p = JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8'))
      assert.equal(p.name, `offload-${dir}`)
      assert.equal(p.version, pkg.version)
      assert.ok(p.os.length === 1 && p.cpu.length === 1)
      // npm picks the glibc or the musl package by the machine's libc.
      if (dir.startsWith('linux-')) assert.deepEqual(p.libc, [dir.endsWith('musl') ? 'musl' : 'glibc'])
    }
    assert.equal(pkg.napi.targets.length, dirs.length)
    // The release workflow builds every target.
    const release = fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8')
    for (const target of pkg.napi.targets) assert.match(release, new RegExp(`target: ${target}\\b`), target)
  })

  it('installed offline with its platform package and no Rust, it works from require and import', { timeout: 300_000 }, () => {
    assert.throws(() => execFileSync('cargo', ['--version'], { env: userEnv, stdio: 'pipe' }), 'cargo is out of reach')
    const dir = project('app', [tarballs.main.file, tarballs.platform.file])
    assert.ok(fs.existsSync(path.join(dir, 'node_modules', `offload-${TARGET}`, BINARY)))
    fs.writeFileSync(
      path.join(dir, 'cjs.js'),
      `const offload = require('offload')
       offload.sort(new Float64Array([3, 1, 2])).then((s) => console.log('cjs', Array.from(s).join(',')))`,
    )
    fs.writeFileSync(
      path.join(dir, 'esm.mjs'),
      `import offload from 'offload'
       import * as named from 'offload'
       import { countPrimes, hash } from 'offload'
       const missing = Object.keys(offload).filter((k) => named[k] !== offload[k])
       console.log('esm', await countPrimes(1000), (await hash('abc', { algorithm: 'sha256' })).slice(0, 8), 'missing named exports:', missing.length)`,
    )
    const cjs = spawnSync(process.execPath, ['cjs.js'], { cwd: dir, env: userEnv, encoding: 'utf8' })
    assert.equal(cjs.status, 0, cjs.stderr)
    assert.equal(cjs.stdout.trim(), 'cjs 1,2,3')
    const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: dir, env: userEnv, encoding: 'utf8' })
    assert.equal(esm.status, 0, esm.stderr)
    assert.equal(esm.stdout.trim(), 'esm 168 ba7816bf missing named exports: 0')
  })

  it('without its platform package, require() fails with one clear error naming the platform and the ways out', { timeout: 300_000 }, () => {
    const dir = project('app-without-binary', [tarballs.main.file])
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules', `offload-${TARGET}`)))
    const probe = `try { require('offload'); console.log('loaded') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: !!e.cause })) }`
    const r = spawnSync(process.execPath, ['-e', probe], { cwd: dir, env: userEnv, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const error = JSON.parse(r.stdout)
    assert.equal(error.code, 'ERR_OFFLOAD_NO_BINARY')
    assert.ok(error.message.includes(TARGET), error.message)
    assert.ok(error.message.includes(`offload-${TARGET}`), error.message)
    assert.ok(error.message.includes('build from source'), error.message)
    assert.ok(!/npm has a bug|wasm32-wasi/.test(error.message), error.message)
    assert.ok(error.cause, 'the loader\'s own errors stay reachable as the cause')
  })
})
