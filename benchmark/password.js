'use strict'

// Password hashing: one hash at a time against the packages users install (@node-rs/argon2,
// argon2, bcrypt, @node-rs/bcrypt, bcryptjs, node:crypto.scrypt, hash-wasm in WebAssembly on the
// main thread and in a piscina pool), then a login load: 32 verifications in flight at once,
// with the event loop's delay and a small fs.readFile's latency measured while they run.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { promisify } = require('node:util')
const { Piscina } = require('piscina')

const offload = require('..')
const { compare, header } = require('./harness.js')

const scrypt = promisify(crypto.scrypt)
const QUICK = Boolean(process.env.BENCH_QUICK)

function optional(name) {
  try {
    return require(name)
  } catch {
    return null
  }
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

/**
 * `total` verifications, `concurrency` in flight at a time, while a loop reads a small file
 * again and again: logins per second, the event loop's delay p99 and readFile's latency p99.
 */
async function loginLoad(verify, { total, concurrency = 32 }) {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const reads = []
  let running = true
  const reader = (async () => {
    while (running) {
      const t0 = performance.now()
      await fs.promises.readFile(__filename)
      reads.push(performance.now() - t0)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  delay.enable()
  await new Promise((r) => setTimeout(r, 5))
  const t0 = performance.now()
  let started = 0
  const worker = async () => {
    while (started < total) {
      started++
      if ((await verify()) !== true) throw new Error('a verification failed')
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  delay.disable()
  running = false
  await reader
  return { perSecond: total / seconds, loopP99: delay.percentile(99) / 1e6, readP99: percentile(reads, 99), reads: reads.length }
}

async function idle() {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const reads = []
  delay.enable()
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now()
    await fs.promises.readFile(__filename)
    reads.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 5))
  }
  delay.disable()
  return { loopP99: delay.percentile(99) / 1e6, readP99: percentile(reads, 99) }
}

async function loadTable(title, ways, options) {
  const base = await idle()
  console.log(`| ${title} | logins/s | vs offload | loop delay p99 | fs.readFile p99 |`)
  console.log('|---|---:|---:|---:|---:|')
  console.log(`| (idle, for reference) | | | ${base.loopP99.toFixed(1)} ms | ${base.readP99.toFixed(1)} ms |`)
  const rows = []
  for (const [label, verify] of ways) {
    if (!verify) {
      console.log(`| ${label} | not available | | | |`)
      continue
    }
    await verify() // warm-up
    const r = await loginLoad(verify, options)
    rows.push({ label, ...r })
    const ours = rows[0].perSecond
    console.log(`| ${label} | ${r.perSecond.toFixed(1)} | ${(r.perSecond / ours).toFixed(2)}x | ${r.loopP99.toFixed(1)} ms | ${r.readP99.toFixed(1)} ms |`)
  }
  console.log()
}

async function main() {
  const nodeRsArgon2 = optional('@node-rs/argon2')
  const argon2 = optional('argon2')
  const bcrypt = optional('bcrypt')
  const nodeRsBcrypt = optional('@node-rs/bcrypt')
  const bcryptjs = optional('bcryptjs')
  const hw = optional('hash-wasm')
  const cores = os.availableParallelism()
  const pool = new Piscina({ filename: path.join(__dirname, 'password-worker.js'), minThreads: cores, maxThreads: cores })
  header('Password hashing')

  const password = 'correct horse battery staple'
  const salt = crypto.randomBytes(16)
  const owasp = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
  const wasmArgon2 = { password, salt, iterations: 2, memorySize: 19456, parallelism: 1, hashLength: 32, outputType: 'encoded' }
  await compare('one argon2id hash, m=19456 KiB t=2 p=1 (OWASP)', [
    ['offload.hashPassword', () => offload.hashPassword(password, owasp)],
    ['@node-rs/argon2 hash (libuv pool)', nodeRsArgon2 && (() => nodeRsArgon2.hash(password, owasp))],
    ['argon2 0.44 hash (libuv pool)', argon2 && (() => argon2.hash(password, { type: argon2.argon2id, ...owasp }))],
    ['hash-wasm argon2id (main thread)', hw && (() => hw.argon2id(wasmArgon2))],
    ['piscina (hash-wasm argon2id in a worker)', hw && (() => pool.run({ algorithm: 'argon2id', options: wasmArgon2 }))],
  ], { reps: 15 })
  const heavy = { memoryCost: 65536, timeCost: 3, parallelism: 4 }
  await compare('one argon2id hash, m=65536 KiB t=3 p=4 (node-argon2\'s defaults; lanes in parallel)', [
    ['offload.hashPassword', () => offload.hashPassword(password, heavy)],
    ['@node-rs/argon2 hash (libuv pool)', nodeRsArgon2 && (() => nodeRsArgon2.hash(password, heavy))],
    ['argon2 0.44 hash (libuv pool)', argon2 && (() => argon2.hash(password, { type: argon2.argon2id, ...heavy }))],
  ], { reps: 7 })
  await compare('one scrypt hash, N=2^17 r=8 p=1', [
    ['offload.hashPassword', () => offload.hashPassword(password, { algorithm: 'scrypt', salt })],
    ['crypto.scrypt (libuv pool, OpenSSL)', () => scrypt(password, salt, 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 2 ** 28 })],
  ], { reps: 7 })
  const cost = QUICK ? 10 : 12
  await compare(`one bcrypt hash, cost ${cost}`, [
    ['offload.hashPassword', () => offload.hashPassword(password, { algorithm: 'bcrypt', cost })],
    ['bcrypt 6 hash (libuv pool, OpenBSD C)', bcrypt && (() => bcrypt.hash(password, cost))],
    ['@node-rs/bcrypt hash (libuv pool)', nodeRsBcrypt && (() => nodeRsBcrypt.hash(password, cost))],
    ['bcryptjs hash (main thread, in slices)', bcryptjs && (() => bcryptjs.hash(password, cost))],
    ['piscina (bcryptjs hashSync in a worker)', bcryptjs && (() => pool.run({ algorithm: 'bcrypt', options: { password, cost } }))],
  ], { reps: 5 })

  // Logins: 32 verifications in flight (a busy sign-in endpoint), on 2 cores.
  const stored = {
    offload: await offload.hashPassword(password, owasp),
    nodeRs: nodeRsArgon2 && (await nodeRsArgon2.hash(password, owasp)),
    argon2: argon2 && (await argon2.hash(password, { type: argon2.argon2id, ...owasp })),
  }
  await loadTable('argon2id logins (OWASP parameters), 32 in flight', [
    ['offload.verifyPassword', () => offload.verifyPassword(stored.offload, password)],
    ['@node-rs/argon2 verify', nodeRsArgon2 && (() => nodeRsArgon2.verify(stored.nodeRs, password))],
    ['argon2 0.44 verify', argon2 && (() => argon2.verify(stored.argon2, password))],
  ], { total: QUICK ? 64 : 320 })
  const bcryptStored = await offload.hashPassword(password, { algorithm: 'bcrypt', cost })
  await loadTable(`bcrypt logins (cost ${cost}), 32 in flight`, [
    ['offload.verifyPassword', () => offload.verifyPassword(bcryptStored, password)],
    ['bcrypt 6 compare', bcrypt && (() => bcrypt.compare(password, bcryptStored))],
    ['@node-rs/bcrypt verify', nodeRsBcrypt && (() => nodeRsBcrypt.verify(password, bcryptStored))],
    ['bcryptjs compare', bcryptjs && (() => bcryptjs.compare(password, bcryptStored))],
  ], { total: QUICK ? 16 : 64 })
  await pool.destroy()
}

module.exports = main
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1) })
