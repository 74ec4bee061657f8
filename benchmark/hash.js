'use strict'

// Hashing: offload against node:crypto on the main thread, @napi-rs/blake-hash and hash-wasm,
// and a piscina pool running node:crypto on shared memory.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Piscina } = require('piscina')
const hw = require('hash-wasm')

const offload = require('..')
const { compare, header } = require('./harness.js')

const QUICK = process.env.BENCH_QUICK ? 8 : 1

function optional(name) {
  try {
    return require(name)
  } catch {
    return null
  }
}

async function main() {
  const napiBlake = optional('@napi-rs/blake-hash')
  const cores = os.availableParallelism()
  const pool = new Piscina({ filename: path.join(__dirname, 'pool-worker.js'), name: 'hashRanges', minThreads: cores, maxThreads: cores })
  header('Hashing')

  const size = (1 << 30) / QUICK
  const shared = new SharedArrayBuffer(size)
  const big = Buffer.from(shared)
  for (let i = 0; i < size; i += 4096) big[i] = i % 251
  const gbps = (ms) => `${(size / 1e9 / (ms / 1000)).toFixed(2)} GB/s (${ms.toFixed(0)} ms)`

  await compare(`hash ${size >> 20} MiB, BLAKE3`, [
    ['crypto.createHash(sha256) (main thread)', () => crypto.createHash('sha256').update(big).digest('hex')],
    ['@napi-rs/blake-hash blake3 (sync, main thread)', napiBlake && (() => napiBlake.blake3(big))],
    ['hash-wasm blake3 (main thread)', () => hw.blake3(big)],
    ['offload.hash blake3', () => offload.hash(big)],
  ], { reps: 5, unit: gbps })
  await compare(`hash ${size >> 20} MiB, SHA-256`, [
    ['crypto.createHash(sha256) (main thread)', () => crypto.createHash('sha256').update(big).digest('hex')],
    ['piscina (crypto sha256 in a worker)', () => pool.run({ buffer: shared, ranges: [[0, size]], algorithm: 'sha256' }, { name: 'hashRanges' })],
    ['offload.hash sha256', () => offload.hash(big, { algorithm: 'sha256' })],
  ], { reps: 5, unit: gbps })
  await compare(`hash ${size >> 20} MiB, xxh3-64`, [
    ['hash-wasm xxhash3 (main thread)', () => hw.xxhash3(big)],
    ['offload.hash xxh3-64', () => offload.hash(big, { algorithm: 'xxh3-64' })],
  ], { reps: 5, unit: gbps })

  // A long string: its UTF-8 copy is made on the main thread either way; offload makes it a
  // part at a time (docs/contracts.md), hashing each part while the next is encoded.
  const text = 'caf\u00e9,2026-12-07,\u20ac 42.50,ok\n'.repeat(((64 << 20) / QUICK) / 24)
  const textRate = (ms) => `${(Buffer.byteLength(text) / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`
  await compare(`hash a string of ${(text.length / 1e6).toFixed(0)}M UTF-16 units (not ASCII), SHA-256`, [
    ['crypto.createHash(sha256).update(string) (main thread)', () => crypto.createHash('sha256').update(text).digest('hex')],
    ['offload.hash(Buffer.from(string)): the copy made at once', () => offload.hash(Buffer.from(text), { algorithm: 'sha256' })],
    ['offload.hash(string)', () => offload.hash(text, { algorithm: 'sha256' })],
  ], { reps: 5, unit: textRate })

  // 1,000 inputs of 1 MiB: one SHA-256 stream cannot use two cores, many can.
  const count = 1000 / QUICK
  const mib = 1 << 20
  const inputs = Array.from({ length: count }, (_, i) => big.subarray(i * mib, (i + 1) * mib))
  const ranges = inputs.map((_, i) => [i * mib, (i + 1) * mib])
  const manyRate = (ms) => `${((count * mib) / 1e9 / (ms / 1000)).toFixed(2)} GB/s (${ms.toFixed(0)} ms)`
  await compare(`hashMany ${count} x 1 MiB, SHA-256`, [
    ['node:crypto one after another (main thread)', () => inputs.map((b) => crypto.createHash('sha256').update(b).digest('hex'))],
    [`piscina (${cores} workers, shared memory)`, async () => {
      const per = Math.ceil(count / cores)
      const parts = await Promise.all(
        Array.from({ length: cores }, (_, w) => pool.run({ buffer: shared, ranges: ranges.slice(w * per, (w + 1) * per), algorithm: 'sha256' }, { name: 'hashRanges' })),
      )
      return parts.flat()
    }],
    ['offload.hashMany sha256', () => offload.hashMany(inputs, { algorithm: 'sha256' })],
  ], { reps: 5, unit: manyRate })

  // 1,000 files of 64 KiB to 4 MiB, in the page cache after the first read.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-'))
  try {
    const files = []
    let total = 0
    for (let i = 0; i < 1000 / QUICK; i++) {
      const len = (64 << 10) + Math.floor(((i * 7919) % 1000) / 1000 * ((4 << 20) - (64 << 10)))
      const file = path.join(dir, `f${i}`)
      fs.writeFileSync(file, big.subarray(0, len))
      files.push(file)
      total += len
    }
    const fileRate = (ms) => `${(total / 1e9 / (ms / 1000)).toFixed(2)} GB/s (${ms.toFixed(0)} ms)`
    console.log(`${files.length} files, ${(total / 2 ** 20).toFixed(0)} MiB in all\n`)
    const readAndHash = (digest) => async () => {
      const out = []
      for (const f of files) out.push(await digest(await fs.promises.readFile(f)))
      return out
    }
    await compare('hashFiles, SHA-256', [
      ['fs.promises.readFile + crypto sha256 loop', readAndHash((b) => crypto.createHash('sha256').update(b).digest('hex'))],
      ['offload.hashFiles sha256', () => offload.hashFiles(files, { algorithm: 'sha256' })],
    ], { reps: 5, unit: fileRate })
    await compare('hashFiles, BLAKE3', [
      ['fs.promises.readFile + crypto sha256 loop', readAndHash((b) => crypto.createHash('sha256').update(b).digest('hex'))],
      ['fs.promises.readFile + hash-wasm blake3 loop', readAndHash((b) => hw.blake3(b))],
      ['fs.promises.readFile + @napi-rs/blake-hash loop', napiBlake && readAndHash((b) => napiBlake.blake3(b).toString('hex'))],
      ['offload.hashFiles blake3', () => offload.hashFiles(files)],
    ], { reps: 5, unit: fileRate })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log('The npm `blake3` package is not compared: it does not install here (a dependency is missing from the registry).\n')
  await pool.destroy()
}

module.exports = main
if (require.main === module) main()
