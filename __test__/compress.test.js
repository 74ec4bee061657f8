'use strict'

// Compression: every format round-trips through an independent decoder (node:zlib for gzip,
// deflate and brotli; fzstd, a pure-JS decoder, for zstd); offload reads node's output;
// corrupt and truncated input fail as node:zlib fails on the same bytes; bombs are refused in
// bounded memory; aborts stop buffers, files and streams; files appear only when complete.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { after, before, describe: suite, it } = require('node:test')
const zlib = require('node:zlib')
const fzstd = require('fzstd')

const offload = require('..')
const { rng } = require('./reference.js')
const { logLines } = require('./fixtures/logs.js')

const BLOCK = 1 << 20
const FORMATS = ['gzip', 'deflate', 'deflate-raw', 'zstd', 'brotli']

/** Independent decoders. */
const decode = {
  gzip: (b) => zlib.gunzipSync(b),
  deflate: (b) => zlib.inflateSync(b),
  'deflate-raw': (b) => zlib.inflateRawSync(b),
  zstd: (b) => Buffer.from(fzstd.decompress(b)),
  brotli: (b) => zlib.brotliDecompressSync(b),
}
/** node:zlib's encoders, to check that offload reads what others write. */
const encode = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  'deflate-raw': (b) => zlib.deflateRawSync(b),
  brotli: (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
}

/** Text-like bytes (compressible, with some noise), reproducible from the seed. */
function sample(n, seed = 1) {
  const random = rng(seed)
  const words = ['GET', '/api/users', '200', 'ms', 'INFO', 'cache', 'miss', '{"id":', '}', '\n']
  const b = Buffer.alloc(n)
  let i = 0
  while (i < n) {
    const w = random() < 0.1 ? String((random() * 1e6) | 0) : words[(random() * words.length) | 0]
    i += b.write(w + ' ', i)
  }
  return b
}

function noise(n, seed = 2) {
  const random = rng(seed)
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (random() * 256) | 0
  return b
}

const fastLevel = (format) => (format === 'brotli' ? 4 : undefined)

suite('compress: round trips', () => {
  it('every format and size class decodes with an independent decoder, and back with offload', async () => {
    for (const size of [0, 1, 100, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7]) {
      const input = sample(size, size + 1)
      for (const format of FORMATS) {
        const packed = await offload.compress(input, { format, level: fastLevel(format) })
        assert.ok(Buffer.isBuffer(packed))
        assert.ok(decode[format](packed).equals(input), `${format} ${size}: independent decoder`)
        assert.ok((await offload.decompress(packed, { format })).equals(input), `${format} ${size}: offload`)
      }
    }
  })

  // 100 MB on the main Node; 16 MB (still 16 blocks of each format, in a sixth of the time) on
  // the other versions (`npm run test:versions`) and under emulation (`npm run test:arm64`).
  const roundTripMB = process.env.OFFLOAD_NODE_WRAP || process.env.OFFLOAD_OTHER_NODE === '1' ? 16 : 100
  it(`${roundTripMB} MB round-trips in every format (brotli at quality 1), read by the independent decoders`, { timeout: 300_000 }, async () => {
    const input = logLines(roundTripMB * 1e6, 21)
    for (const format of FORMATS) {
      const packed = await offload.compress(input, { format, level: format === 'brotli' ? 1 : undefined })
      assert.ok(decode[format](packed).equals(input), format)
      assert.ok((await offload.decompress(packed, { format })).equals(input), `${format} back`)
    }
  })

  it('every level of every format round-trips', async () => {
    const input = sample(300_000, 9)
    for (const format of FORMATS) {
      const [lo, hi] = { zstd: [1, 19], brotli: [0, 11] }[format] ?? [-1, 9]
      for (let level = lo; level <= hi; level++) {
        if (format === 'brotli' && level > 9) continue // 10-11 are minutes per MB; 11 is the default below
        const packed = await offload.compress(input, { format, level })
        assert.ok(decode[format](packed).equals(input), `${format} level ${level}`)
      }
    }
    const small = sample(20_000, 3)
    assert.ok(decode.brotli(await offload.compress(small, { format: 'brotli' })).equals(small), 'brotli default 11')
  })

  it('reads what node:zlib writes, and every kind of input', async () => {
    const input = sample(2 * BLOCK + 5, 4)
    for (const format of Object.keys(encode)) {
      assert.ok((await offload.decompress(encode[format](input), { format })).equals(input), format)
    }
    const text = 'héllo wörld '.repeat(1000)
    assert.equal(zlib.gunzipSync(await offload.compress(text)).toString(), text)
    const f64 = new Float64Array([1, 2, 3, NaN])
    const packed = await offload.compress(f64)
    assert.ok(zlib.gunzipSync(packed).equals(Buffer.from(f64.buffer)))
    assert.ok(zlib.gunzipSync(await offload.compress(new DataView(f64.buffer))).equals(Buffer.from(f64.buffer)))
    assert.ok(zlib.gunzipSync(await offload.compress(f64.buffer)).equals(Buffer.from(f64.buffer)))
  })

  it("'auto' detects gzip, zlib and zstd", async () => {
    const input = sample(50_000, 5)
    for (const format of ['gzip', 'deflate', 'zstd']) {
      const packed = await offload.compress(input, { format })
      assert.ok((await offload.decompress(packed, { format: 'auto' })).equals(input), format)
    }
    await assert.rejects(offload.decompress(Buffer.from('plain text'), { format: 'auto' }), { code: 'Z_DATA_ERROR' })
  })

  it('gzip output (one member) is within 1% of node:zlib at the same level on JSON logs', async () => {
    // (libdeflate's sizes differ from zlib's by a few percent either way with the data.)
    const input = logLines(16 * BLOCK, 6)
    for (const level of [1, 6, 9]) {
      const ours = (await offload.compress(input, { level })).length
      const node = zlib.gzipSync(input, { level }).length
      assert.ok(ours <= node * 1.01, `level ${level}: ${ours} vs node ${node}`)
    }
  })

  it('concatenated gzip members decode to the concatenation; a zero byte ends the data, as in gunzip', async () => {
    const a = zlib.gzipSync('hello ')
    const b = await offload.compress('world')
    assert.equal((await offload.decompress(Buffer.concat([a, b]))).toString(), 'hello world')
    assert.equal((await offload.decompress(Buffer.concat([a, Buffer.from([0, 1, 2])]))).toString(), 'hello ')
  })
})

/** The error node:zlib gives for the same bytes, as { name, code, errno, message }. */
function nodeError(fn) {
  try {
    fn()
  } catch (e) {
    return { name: e.name, code: e.code, errno: e.errno, message: e.message }
  }
  assert.fail('node:zlib accepted the input')
}

suite('compress: bad input', () => {
  it('corrupt and truncated input fails as node:zlib fails on the same bytes', async () => {
    const input = sample(200_000, 7)
    const gz = zlib.gzipSync(input)
    const flipped = Buffer.from(gz)
    flipped[gz.length - 6] ^= 0xff // the CRC
    const cases = {
      gzip: [Buffer.from('hello'), gz.subarray(0, 10), gz.subarray(0, gz.length >> 1), flipped, Buffer.alloc(0), Buffer.concat([gz, Buffer.from('xyz')])],
      deflate: [Buffer.from('garbage!'), zlib.deflateSync(input).subarray(0, 1000), Buffer.alloc(0)],
      'deflate-raw': [Buffer.from([0xff, 0xff]), zlib.deflateRawSync(input).subarray(0, 1000), Buffer.alloc(0)],
      brotli: [zlib.brotliCompressSync(input, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }).subarray(0, 100), Buffer.alloc(0)],
    }
    const nodeDecode = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, 'deflate-raw': zlib.inflateRawSync, brotli: zlib.brotliDecompressSync }
    for (const [format, inputs] of Object.entries(cases)) {
      for (const bad of inputs) {
        const want = nodeError(() => nodeDecode[format](bad))
        await assert.rejects(offload.decompress(bad, { format }), (e) => {
          assert.deepEqual({ name: e.name, code: e.code, errno: e.errno, message: e.message }, want, `${format} ${bad.length} bytes`)
          return true
        })
      }
    }
    // brotli's codes come from a different decoder than node's: the same kind of error.
    await assert.rejects(offload.decompress(Buffer.from('garbage garbage'), { format: 'brotli' }), (e) => {
      assert.equal(e.message, 'Decompression failed')
      assert.match(e.code, /^ERR__ERROR_FORMAT_/)
      assert.ok(e.errno < 0)
      return true
    })
  })

  it('zstd errors carry libzstd\'s names', async () => {
    const packed = await offload.compress(sample(100_000), { format: 'zstd' })
    await assert.rejects(offload.decompress(packed.subarray(0, 50), { format: 'zstd' }), { code: 'Z_BUF_ERROR', errno: -5, message: 'unexpected end of file' })
    const bad = Buffer.from(packed)
    bad.fill(0x55, 20, 60)
    await assert.rejects(offload.decompress(bad, { format: 'zstd' }), (e) => {
      assert.match(e.code, /^ZSTD_error_/)
      assert.ok(e.errno < 0 && typeof e.message === 'string' && e.message.length > 0)
      return true
    })
    await assert.rejects(offload.decompress(Buffer.from('not zstd at all'), { format: 'zstd' }), { code: 'ZSTD_error_prefix_unknown', errno: -10 })
  })

  it('refuses a bomb (10 GiB of zeros in 10 MB) past maxOutputLength, in bounded memory', async () => {
    // 160 gzip members of 64 MiB of zeros each: 10 GiB of output.
    const member = zlib.gzipSync(Buffer.alloc(64 << 20), { level: 9 })
    const bomb = Buffer.concat(Array(160).fill(member))
    assert.ok(bomb.length < 16e6, `${bomb.length}`)
    const before = process.memoryUsage().rss
    await assert.rejects(offload.decompress(bomb, { maxOutputLength: 100e6 }), {
      name: 'RangeError',
      code: 'ERR_BUFFER_TOO_LARGE',
      message: 'Cannot create a Buffer larger than 100000000 bytes',
    })
    assert.ok(process.memoryUsage().rss - before < 400e6, 'memory stayed bounded')
    // The default limit is the per-buffer maxAllocation.
    const saved = offload.configure().maxAllocation
    offload.configure({ maxAllocation: 50e6 })
    try {
      await assert.rejects(offload.decompress(bomb), { code: 'ERR_BUFFER_TOO_LARGE', message: 'Cannot create a Buffer larger than 50000000 bytes' })
    } finally {
      offload.configure({ maxAllocation: saved })
    }
    // A stream with the limit fails the same way.
    await assert.rejects(
      pipeline(Readable.from([bomb]), offload.createDecompressStream({ maxOutputLength: 10e6 }), new Writable({ write: (c, e, cb) => cb() })),
      { code: 'ERR_BUFFER_TOO_LARGE' },
    )
  })

  it('bad arguments fail with Node-style errors naming the argument', async () => {
    await assert.rejects(offload.compress(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"input"/ })
    await assert.rejects(offload.compress('x', { format: 'lz4' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /options\.format/ })
    await assert.rejects(offload.compress('x', { level: 10 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /options\.level/ })
    await assert.rejects(offload.compress('x', { format: 'zstd', level: 0 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.compress('x', { level: 1.5 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.compress('x', { levle: 1 }), { code: 'ERR_INVALID_ARG_VALUE', message: /did you mean 'level'/ })
    await assert.rejects(offload.decompress('x', { maxOutputLength: 0 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.decompress('x', { maxOutputLength: '1' }), { code: 'ERR_INVALID_ARG_TYPE' })
    await assert.rejects(offload.compressFile(1, 'x'), { code: 'ERR_INVALID_ARG_TYPE', message: /"source"/ })
    await assert.rejects(offload.compressFile('x', 'a\u0000b'), { code: 'ERR_INVALID_ARG_VALUE', message: /destination/ })
    assert.throws(() => offload.createCompressStream({ format: 'zip' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.hashStream('not a stream'), { code: 'ERR_INVALID_ARG_TYPE', message: /"readable"/ })
  })
})

suite('compress: files', () => {
  let dir
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-compress-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const leftovers = () => fs.readdirSync(dir).filter((n) => n.startsWith('.offload-'))

  it('compressFile and decompressFile round-trip every format; outputs are standard', async () => {
    const input = sample(5 * BLOCK + 3, 11)
    const src = path.join(dir, 'in.txt')
    fs.writeFileSync(src, input)
    for (const format of FORMATS) {
      const packed = path.join(dir, `in.${format}`)
      const back = path.join(dir, `back.${format}`)
      const written = await offload.compressFile(src, packed, { format, level: fastLevel(format) })
      assert.equal(written, fs.statSync(packed).size)
      assert.ok(decode[format](fs.readFileSync(packed)).equals(input), format)
      assert.equal(await offload.decompressFile(packed, new URL(`file://${back}`), { format }), input.length)
      assert.ok(fs.readFileSync(back).equals(input), format)
    }
    assert.deepEqual(leftovers(), [])
  })

  it('a failure or an abort leaves the destination as it was and no temporary file', async () => {
    const src = path.join(dir, 'big.txt')
    fs.writeFileSync(src, sample(40 * BLOCK, 12))
    const dest = path.join(dir, 'dest.gz')
    fs.writeFileSync(dest, 'before')
    const controller = new AbortController()
    const call = offload.compressFile(src, dest, { level: 9, signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 30)
    await assert.rejects(call, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'stop')
    while (offload.stats().running > 0) await new Promise((r) => setTimeout(r, 2))
    assert.equal(fs.readFileSync(dest, 'utf8'), 'before')
    assert.deepEqual(leftovers(), [])
    // Corrupt input: the decoder's error, the destination untouched.
    const corrupt = path.join(dir, 'corrupt.gz')
    const gz = zlib.gzipSync(sample(100_000))
    fs.writeFileSync(corrupt, gz.subarray(0, gz.length - 100))
    await assert.rejects(offload.decompressFile(corrupt, dest), { code: 'Z_BUF_ERROR' })
    assert.equal(fs.readFileSync(dest, 'utf8'), 'before')
    assert.deepEqual(leftovers(), [])
  })

  it('file errors read as fs errors', async () => {
    const missing = path.join(dir, 'missing.txt')
    await assert.rejects(offload.compressFile(missing, path.join(dir, 'x.gz')), {
      code: 'ENOENT', syscall: 'open', path: missing, errno: -2,
      message: `ENOENT: no such file or directory, open '${missing}'`,
    })
    const noDir = path.join(dir, 'no', 'such', 'dir.gz')
    fs.writeFileSync(path.join(dir, 'ok.txt'), 'ok')
    await assert.rejects(offload.compressFile(path.join(dir, 'ok.txt'), noDir), { code: 'ENOENT', syscall: 'open', path: noDir })
  })
})

suite('compress: streams', () => {
  it('compressing streams work in pipeline() where zlib.createGzip() goes, output standard', async () => {
    const input = sample(6 * BLOCK + 11, 13)
    for (const format of FORMATS) {
      const chunks = []
      const pieces = []
      for (let i = 0; i < input.length; i += 65536) pieces.push(input.subarray(i, i + 65536))
      await pipeline(Readable.from(pieces), offload.createCompressStream({ format, level: fastLevel(format) }), new Writable({
        write(chunk, enc, cb) { chunks.push(chunk); cb() },
      }))
      const packed = Buffer.concat(chunks)
      assert.ok(decode[format](packed).equals(input), format)
      // And back through a decompressing stream, fed in odd-sized pieces.
      const out = []
      const odd = []
      for (let i = 0; i < packed.length; i += 7777) odd.push(packed.subarray(i, i + 7777))
      await pipeline(Readable.from(odd), offload.createDecompressStream({ format }), new Writable({
        write(chunk, enc, cb) { out.push(chunk); cb() },
      }))
      assert.ok(Buffer.concat(out).equals(input), `${format} back`)
    }
  })

  it('an empty stream makes a valid empty output', async () => {
    for (const format of FORMATS) {
      const chunks = []
      await pipeline(Readable.from([]), offload.createCompressStream({ format }), new Writable({ write(c, e, cb) { chunks.push(c); cb() } }))
      assert.equal(decode[format](Buffer.concat(chunks)).length, 0, format)
    }
  })

  it('holds the writer while a slow consumer lags (backpressure)', async () => {
    const total = 48 * BLOCK
    let produced = 0
    let consumed = 0
    let maxLead = 0
    const source = new Readable({
      read() {
        if (produced >= total) return this.push(null)
        const chunk = noise(65536, produced)
        produced += chunk.length
        this.push(chunk)
      },
    })
    const slow = new Writable({
      highWaterMark: 65536,
      write(chunk, enc, cb) {
        consumed += chunk.length
        maxLead = Math.max(maxLead, produced - consumed)
        setTimeout(cb, 2)
      },
    })
    await pipeline(source, offload.createCompressStream({ format: 'zstd', level: 1 }), slow)
    // Noise does not compress: output ~ input. Without backpressure the whole 48 MiB would be
    // read ahead of the consumer at once.
    assert.ok(maxLead < 24 * BLOCK, `read ${maxLead} bytes ahead of the consumer`)
    assert.ok(consumed >= total)
  })

  it('destroy() and the signal stop the native work', async () => {
    const big = sample(64 * BLOCK, 14)
    // The whole job's time here, now: a step that ran on after destroy() would take most of it.
    const t0 = performance.now()
    await offload.compress(big, { level: 9 })
    const full = performance.now() - t0
    const stream = offload.createCompressStream({ level: 9 })
    stream.on('data', () => {})
    stream.write(big)
    await new Promise((r) => setTimeout(r, 20))
    const t = performance.now()
    stream.destroy()
    while (offload.stats().running > 0) await new Promise((r) => setTimeout(r, 1))
    const stopped = performance.now() - t
    assert.ok(stopped < Math.max(500, full / 2), `native work stopped ${stopped.toFixed(0)} ms after destroy() (the whole job: ${full.toFixed(0)} ms)`)
    const controller = new AbortController()
    const aborted = offload.createCompressStream({ format: 'zstd', level: 19, signal: controller.signal })
    setTimeout(() => controller.abort(new Error('enough')), 20)
    await assert.rejects(pipeline(Readable.from([big]), aborted, new Writable({ write: (c, e, cb) => cb() })), (e) => {
      assert.equal(e.name, 'AbortError')
      assert.equal(e.code, 'ABORT_ERR')
      assert.equal(e.cause.message, 'enough')
      return true
    })
  })

  it('a corrupt stream fails with the decoder\'s error', async () => {
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('this is not gzip')]), offload.createDecompressStream(), new Writable({ write: (c, e, cb) => cb() })),
      { code: 'Z_DATA_ERROR', errno: -3, message: 'incorrect header check' },
    )
  })
})

suite('compress: aborts and progress', () => {
  it('an abort mid-buffer rejects with AbortError and the reason as cause', async () => {
    const big = sample(64 * BLOCK, 15)
    for (const format of ['gzip', 'zstd', 'brotli', 'deflate']) {
      const controller = new AbortController()
      const call = offload.compress(big, { format, level: format === 'zstd' ? 19 : 9, signal: controller.signal })
      setTimeout(() => controller.abort(new Error(format)), 15)
      await assert.rejects(call, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === format)
      while (offload.stats().running > 0) await new Promise((r) => setTimeout(r, 1))
    }
  })

  it('reports progress in input bytes, ending with done === total', async () => {
    const input = sample(8 * BLOCK, 16)
    const seen = []
    await offload.compress(input, { onProgress: (p) => seen.push(p), progressInterval: 1 })
    assert.deepEqual(seen.at(-1), { done: input.length, total: input.length })
    const packed = await offload.compress(input, { format: 'zstd' })
    const seen2 = []
    await offload.decompress(packed, { format: 'zstd', onProgress: (p) => seen2.push(p) })
    assert.deepEqual(seen2.at(-1), { done: packed.length, total: packed.length })
  })
})

suite('hashStream', () => {
  it('matches hash of the whole body, for every algorithm, chunked or not', async () => {
    const body = noise(3 * BLOCK + 5, 17)
    for (const algorithm of ['blake3', 'sha256', 'sha512', 'xxh3-64', 'xxh3-128']) {
      const want = await offload.hash(body, { algorithm })
      const pieces = []
      for (let i = 0; i < body.length; i += 10_000) pieces.push(body.subarray(i, i + 10_000))
      assert.equal(await offload.hashStream(Readable.from(pieces), { algorithm }), want, algorithm)
      assert.equal(await offload.hashStream(Readable.from([body]), { algorithm }), want)
    }
    assert.equal(await offload.hashStream(Readable.from([]), { algorithm: 'sha256' }), crypto.createHash('sha256').digest('hex'))
    const text = ['héllo ', 'wörld']
    assert.equal(await offload.hashStream(Readable.from(text), { algorithm: 'sha256', encoding: 'base64' }), crypto.createHash('sha256').update(text.join('')).digest('base64'))
    async function* gen() { yield Buffer.from('a'); yield new Uint16Array([0x6262]) }
    assert.equal(await offload.hashStream(gen(), { algorithm: 'sha256' }), crypto.createHash('sha256').update('abb').digest('hex'))
  })

  it('an abort while waiting for data rejects at once and destroys the stream', async () => {
    const readable = new Readable({ read() {} }) // never ends
    readable.push(Buffer.alloc(1000))
    const controller = new AbortController()
    const call = offload.hashStream(readable, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('client went away')), 20)
    await assert.rejects(call, (e) => e.name === 'AbortError' && e.cause.message === 'client went away')
    assert.ok(readable.destroyed)
  })

  it('a failing readable rejects with its error', async () => {
    const readable = new Readable({ read() { this.destroy(new Error('socket hang up')) } })
    await assert.rejects(offload.hashStream(readable), { message: 'socket hang up' })
  })
})
