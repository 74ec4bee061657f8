'use strict'

// The native addon, through the loader `napi build` generates (binding.js). That loader looks
// for a binary beside it (a build from source) and then for the per-platform package
// (offload-<platform>, an optional dependency); when neither is there its own message speaks
// of npm bugs and a WebAssembly package offload does not ship. This says what happened instead.

const { withCode } = require('./errors.js')

const SUPPORTED = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']

/** This process's platform as the per-platform packages name it (linux-x64-gnu, darwin-arm64, ...). */
function platformName() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function noBinary(cause) {
  const name = platformName()
  const supported = SUPPORTED.includes(name)
  const why = supported
    ? `its prebuilt binary for ${name} is missing: the optional dependency offload-${name} was not installed ` +
      '(installs with --no-optional, --omit=optional or --ignore-optional leave it out; reinstall without them)'
    : `there is no prebuilt binary for ${name} (Node ${process.version}); prebuilt binaries exist for ${SUPPORTED.join(', ')}`
  return withCode(
    new Error(
      `offload cannot load its native addon: ${why}. Ways out: run on a supported platform, or build from source ` +
        '(install Rust from https://rustup.rs, clone the repository, run `npm install` there, and install that folder).',
      { cause },
    ),
    'ERR_OFFLOAD_NO_BINARY',
  )
}

let binding
try {
  binding = require('../binding.js')
} catch (error) {
  throw noBinary(error)
}

module.exports = binding

