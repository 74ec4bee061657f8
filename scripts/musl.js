'use strict'

// linux-x64-musl (Alpine): builds the addon against musl with Debian's musl-tools (installed
// when missing) and checks that the result links no glibc symbol, so that it loads on Alpine.
//
//   node scripts/musl.js            a debug build and the check (what the test runs)
//   node scripts/musl.js --release  the release binary, offload.linux-x64-musl.node, and the check

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { aptInstall, has, rustTarget } = require('./system.js')

const ROOT = path.join(__dirname, '..')
const TARGET = 'x86_64-unknown-linux-musl'

/** What a shared library asks of the dynamic linker: its needed libraries and versioned symbols. */
function linkage(file) {
  const dynamic = execFileSync('readelf', ['-d', '-W', file], { encoding: 'utf8' })
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
  const symbols = execFileSync('readelf', ['--dyn-syms', '-W', file], { encoding: 'utf8' })
  const glibc = [...new Set([...symbols.matchAll(/\b(\w+)@(GLIBC_[\d.]+)/g)].map((m) => `${m[1]}@${m[2]}`))]
  return { needed, glibc }
}

/** Builds the musl addon; returns the path of the shared library. */
function build({ release = false } = {}) {
  if (!has('musl-gcc')) aptInstall('musl-tools')
  rustTarget(TARGET)
  // musl-gcc links against musl's own folder, which has no libgcc_s (the unwinder Rust's
  // panics need; Alpine's libgcc package provides it at run time): link against the build
  // machine's, through a folder holding only it.
  const unwinder = execFileSync('gcc', ['-print-file-name=libgcc_s.so.1'], { encoding: 'utf8' }).trim()
  const libs = path.join(ROOT, 'target', 'musl-link')
  fs.mkdirSync(libs, { recursive: true })
  fs.rmSync(path.join(libs, 'libgcc_s.so.1'), { force: true })
  fs.symlinkSync(unwinder, path.join(libs, 'libgcc_s.so.1'))
  const env = {
    ...process.env,
    CC_x86_64_unknown_linux_musl: 'musl-gcc',
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER: 'musl-gcc',
    // (replaces .cargo/config.toml's flags for the target, so they are repeated here)
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS: `-C target-feature=-crt-static -C link-arg=-L${libs}`,
  }
  const args = ['build', '--lib', '--features', 'napi', '--target', TARGET, ...(release ? ['--release'] : [])]
  const r = spawnSync('cargo', args, { cwd: ROOT, stdio: 'inherit', env })
  if (r.status !== 0) throw new Error(`the musl build failed (${r.status})`)
  const lib = path.join(ROOT, 'target', TARGET, release ? 'release' : 'debug', 'liboffload.so')
  if (release) {
    const out = path.join(ROOT, 'offload.linux-x64-musl.node')
    fs.copyFileSync(lib, out)
    return out
  }
  return lib
}

/** Throws unless `file` is a musl shared library: no glibc symbol, no glibc library. */
function check(file) {
  const { needed, glibc } = linkage(file)
  if (glibc.length) throw new Error(`${file} links glibc symbols: ${glibc.slice(0, 10).join(', ')}`)
  const foreign = needed.filter((n) => /^(libc\.so\.6|libm\.so\.6|libpthread|libdl|librt|ld-linux)/.test(n))
  if (foreign.length) throw new Error(`${file} needs glibc libraries: ${foreign.join(', ')}`)
  if (!needed.includes('libc.so')) throw new Error(`${file} does not need musl's libc.so (needs ${needed.join(', ')})`)
  return { needed }
}

module.exports = { build, check, linkage }

if (require.main === module) {
  const file = build({ release: process.argv.includes('--release') })
  const { needed } = check(file)
  console.log(`${path.relative(ROOT, file)}: musl, needs ${needed.join(', ')}, no glibc symbol`)
}
