'use strict'

// What the platform scripts need from the machine: whether a command exists, and Debian's
// packages installed when one is missing (as root, or through sudo), as .ci/run does.

const { spawnSync } = require('node:child_process')

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** Installs Debian packages; throws saying what to install by hand when it cannot. */
function aptInstall(...packages) {
  if (!has('apt-get')) throw new Error(`install ${packages.join(' ')} (apt-get is not available here)`)
  const sudo = process.getuid?.() === 0 ? [] : ['sudo']
  console.error(`installing ${packages.join(' ')} from Debian's packages ...`)
  for (const args of [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
    const [command, ...rest] = [...sudo, ...args]
    const r = spawnSync(command, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): install ${packages.join(' ')} by hand`)
  }
}

/** Adds a Rust target with rustup when it is not installed (a toolchain without rustup is left as it is). */
function rustTarget(target) {
  const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' })
  if (installed.status === 0 && !installed.stdout.split('\n').includes(target)) {
    const r = spawnSync('rustup', ['target', 'add', target], { stdio: 'inherit' })
    if (r.status !== 0) throw new Error(`rustup target add ${target} failed (${r.status})`)
  }
}

module.exports = { aptInstall, has, rustTarget }
