'use strict'

// Compression: offload against node:zlib (the best plain-Node way: native zlib on one libuv
// thread per call), a piscina pool gzipping halves in workers, and the zstd command line where
// it is installed. Data: 200 MB of JSON log lines (__test__/fixtures/logs.js).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { promisify } = require('node:util')
const zlib = require('node:zlib')
const { Piscina } = require('piscina')

const offload = require('..')
const { logLines } = require('../__test__/fixtures/logs.js')
const { compare, header } = require('./harness.js')

const QUICK = process.env.BENCH_QUICK ? 10 : 1
const gzip = promisify(zlib.gzip)
const gunzip = promisify(zlib.gunzip)
const brotli = promisify(zlib.brotliCompress)

function sink() {
  return new Writable({ write: (chunk, encoding, callback) => callback() })
}

function pieces(buffer, size = 64 << 10) {
  const out = []
  for (let i = 0; i < buffer.length; i += size) out.push(buffer.subarray(i, i + size))
  return out
}

function hasCommand(name) {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0
}

async function main() {
  header('Compression')
  const cores = os.availableParallelism()
  const data = logLines((200e6) / QUICK, 7)
  const shared = new SharedArrayBuffer(data.length)
  new Uint8Array(shared).set(data)
  const mbps = (bytes) => (ms) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`
  const rate = mbps(data.length)
  const pool = new Piscina({ filename: path.join(__dirname, 'pool-worker.js'), minThreads: cores, maxThreads: cores })
  const halves = Array.from({ length: cores }, (_, i) => [Math.floor((i * data.length) / cores), Math.floor(((i + 1) * data.length) / cores)])

  const nodeSize = zlib.gzipSync(data, { level: 6 }).length
  const ourSize = (await offload.compress(data, { level: 6 })).length
  console.log(`gzip level 6 output: offload ${(ourSize / data.length * 100).toFixed(2)}% of the input, node:zlib ${(nodeSize / data.length * 100).toFixed(2)}% (offload/node ${(ourSize / nodeSize).toFixed(3)})\n`)

  await compare(`gzip level 6, ${(data.length / 1e6).toFixed(0)} MB of JSON logs`, [
    ['zlib.gzip (one call)', () => gzip(data, { level: 6 })],
    [`piscina (${cores} workers, zlib.gzipSync on 1/${cores} each)`, () => Promise.all(halves.map((r) => pool.run({ buffer: shared, ranges: [r], level: 6 }, { name: 'gzipRanges' })))],
    ['offload.compress gzip', () => offload.compress(data, { level: 6 })],
  ], { reps: 3, unit: rate })

  const packed = await offload.compress(data, { level: 6 })
  await compare('gunzip of the same', [
    ['zlib.gunzip', () => gunzip(packed)],
    ['offload.decompress gzip', () => offload.decompress(packed)],
  ], { reps: 3, unit: rate })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-'))
  const file = path.join(dir, 'logs.json')
  fs.writeFileSync(file, data)
  const zstdCli = hasCommand('zstd')
  await compare('zstd level 3', [
    [`zstd -3 -T${cores} (command line, file to /dev/null)`, zstdCli && (() => spawnSync('zstd', ['-3', `-T${cores}`, '-q', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] }))],
    ['offload.compress zstd', () => offload.compress(data, { format: 'zstd', level: 3 })],
    ['offload.compressFile zstd (file to file)', () => offload.compressFile(file, path.join(dir, 'out.zst'), { format: 'zstd', level: 3 })],
  ], { reps: 3, unit: rate })

  const small = data.subarray(0, 20e6 / QUICK)
  await compare(`brotli quality 5, ${(small.length / 1e6).toFixed(0)} MB`, [
    ['zlib.brotliCompress', () => brotli(small, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } })],
    ['offload.compress brotli (4 MiB blocks on every core)', () => offload.compress(small, { format: 'brotli', level: 5 })],
  ], { reps: 3, unit: mbps(small.length) })

  const chunks = pieces(data)
  await compare('gzip stream in pipeline(), 64 KiB chunks', [
    ['zlib.createGzip()', () => pipeline(Readable.from(chunks), zlib.createGzip({ level: 6 }), sink())],
    ['offload.createCompressStream()', () => pipeline(Readable.from(chunks), offload.createCompressStream({ level: 6 }), sink())],
  ], { reps: 3, unit: rate })

  const bodyChunks = pieces(data.subarray(0, 100e6 / QUICK))
  await compare('hash a 100 MB stream, SHA-256', [
    ['crypto.createHash in a for-await loop', async () => {
      const h = require('node:crypto').createHash('sha256')
      for await (const c of Readable.from(bodyChunks)) h.update(c)
      return h.digest('hex')
    }],
    ['offload.hashStream', () => offload.hashStream(Readable.from(bodyChunks), { algorithm: 'sha256' })],
  ], { reps: 3, unit: mbps(100e6 / QUICK) })

  fs.rmSync(dir, { recursive: true, force: true })
  await pool.destroy()
}

module.exports = main
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1) })
