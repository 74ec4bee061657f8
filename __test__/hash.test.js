'use strict'

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { after, before, describe: suite, it } = require('node:test')
const hw = require('hash-wasm')

const offload = require('..')
const { rng } = require('./reference.js')
const vectors = require('./fixtures/blake3-vectors.json')

/** An independent implementation of each algorithm: node:crypto for SHA-2, hash-wasm otherwise. */
const reference = {
  blake3: (b) => hw.blake3(b),
  sha256: async (b) => crypto.createHash('sha256').update(b).digest('hex'),
  sha512: async (b) => crypto.createHash('sha512').update(b).digest('hex'),
  'xxh3-64': (b) => hw.xxhash3(b),
  'xxh3-128': (b) => hw.xxhash128(b),
}
const ALGORITHMS = Object.keys(reference)

function randomBytes(n, seed) {
  const random = rng(seed)
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (random() * 256) | 0
  return b
}

suite('hash: known answers', () => {
  it('matches the published BLAKE3 test vectors', async () => {
    for (const { input_len: n, hash } of vectors.cases) {
      const input = Buffer.alloc(n)
      for (let i = 0; i < n; i++) input[i] = i % 251
      assert.equal(await offload.hash(input), hash, `length ${n}`)
    }
  })

  it('matches the NIST SHA-256 and SHA-512 examples', async () => {
    const m448 = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'
    const cases = [
      ['sha256', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['sha256', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      ['sha256', m448, '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
      ['sha512', '', 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'],
      ['sha512', 'abc', 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'],
      ['sha512', m448, '204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445'],
    ]
    for (const [algorithm, input, digest] of cases) assert.equal(await offload.hash(input, { algorithm }), digest, `${algorithm}(${input})`)
  })

  it('gives xxh3 in canonical big-endian order, as xxhsum prints it', async () => {
    assert.equal(await offload.hash('', { algorithm: 'xxh3-64' }), '2d06800538d394c2')
    assert.equal(await offload.hash('', { algorithm: 'xxh3-128' }), '99aa06d3014798d86001c324468d497f')
  })
})

suite('hash: agreement with independent implementations', () => {
  it('for every algorithm at lengths around block and chunk boundaries', async () => {
    const lengths = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096 * 3 + 5, 3 * 1024 * 1024 + 17]
    for (const n of lengths) {
      const input = randomBytes(n, n + 1)
      for (const algorithm of ALGORITHMS) {
        assert.equal(await offload.hash(input, { algorithm }), await reference[algorithm](input), `${algorithm} n=${n}`)
      }
    }
  })

  it('across offload\'s 4 MiB chunks and BLAKE3\'s multithreaded path', async () => {
    const input = randomBytes(9 * 1024 * 1024 + 3, 77)
    for (const algorithm of ALGORITHMS) {
      assert.equal(await offload.hash(input, { algorithm }), await reference[algorithm](input), algorithm)
    }
  })
})

suite('hash: inputs and encodings', () => {
  it('hashes the bytes each input kind stands for', async () => {
    const bytes = Buffer.from('offload: the same bytes every time \u00e9\u2603')
    const expected = await offload.hash(bytes, { algorithm: 'sha256' })
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const sab = new SharedArrayBuffer(bytes.length)
    new Uint8Array(sab).set(bytes)
    const inputs = [
      bytes.toString('utf8'),
      new Uint8Array(ab),
      ab,
      sab,
      new DataView(ab),
      new Uint8ClampedArray(ab),
    ]
    for (const input of inputs) assert.equal(await offload.hash(input, { algorithm: 'sha256' }), expected, Object.prototype.toString.call(input))
    // a wider view hashes its bytes, not its elements
    const f64 = new Float64Array([1.5, -2])
    assert.equal(await offload.hash(f64, { algorithm: 'sha256' }), crypto.createHash('sha256').update(Buffer.from(f64.buffer)).digest('hex'))
  })

  it('a subarray or offset view hashes only its own bytes', async () => {
    const whole = Buffer.from('0123456789abcdef')
    const view = whole.subarray(3, 11)
    assert.equal(await offload.hash(view, { algorithm: 'sha256' }), crypto.createHash('sha256').update('3456789a').digest('hex'))
    const u16 = new Uint16Array(whole.buffer, whole.byteOffset + 2, 3)
    assert.equal(await offload.hash(u16), await hw.blake3(whole.subarray(2, 8)))
    const dv = new DataView(whole.buffer, whole.byteOffset + 4, 4)
    assert.equal(await offload.hash(dv), await hw.blake3('4567'))
  })

  it('encodes as hex, base64, base64url or a Buffer', async () => {
    const raw = crypto.createHash('sha512').update('x').digest()
    const o = { algorithm: 'sha512' }
    assert.equal(await offload.hash('x', { ...o, encoding: 'hex' }), raw.toString('hex'))
    assert.equal(await offload.hash('x', { ...o, encoding: 'base64' }), raw.toString('base64'))
    assert.equal(await offload.hash('x', { ...o, encoding: 'base64url' }), raw.toString('base64url'))
    const buf = await offload.hash('x', { ...o, encoding: 'buffer' })
    assert.ok(Buffer.isBuffer(buf))
    assert.deepEqual(buf, raw)
  })

  it('hashMany gives each input\'s digest, in input order', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `text ${i}` : randomBytes(i * 997, i)))
    for (const algorithm of ALGORITHMS) {
      const got = await offload.hashMany(inputs, { algorithm })
      const want = await Promise.all(inputs.map((x) => reference[algorithm](typeof x === 'string' ? Buffer.from(x) : x)))
      assert.deepEqual(got, want, algorithm)
    }
    assert.deepEqual(await offload.hashMany([]), [])
    const bufs = await offload.hashMany(['a', 'b'], { encoding: 'buffer' })
    assert.ok(bufs.every(Buffer.isBuffer))
    assert.equal(bufs[0].toString('hex'), await hw.blake3('a'))
  })
})

suite('hash: files', () => {
  let dir
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-hash-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('hashes empty, small and larger-than-64-MiB files like hashing their bytes', async () => {
    const files = {
      empty: Buffer.alloc(0),
      small: randomBytes(100_000, 5),
      large: Buffer.alloc(70 * 1024 * 1024 + 123, 7),
    }
    for (let i = 0; i < files.large.length; i += 4099) files.large[i] = i & 255
    for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes)
    for (const algorithm of ['blake3', 'sha256', 'xxh3-128']) {
      for (const [name, bytes] of Object.entries(files)) {
        assert.equal(await offload.hashFile(path.join(dir, name), { algorithm }), await reference[algorithm](bytes), `${algorithm} ${name}`)
      }
      const all = await offload.hashFiles(Object.keys(files).map((n) => path.join(dir, n)), { algorithm })
      assert.deepEqual(all, await Promise.all(Object.values(files).map((b) => reference[algorithm](b))))
    }
    // a file: URL and a Buffer path work like the string
    const small = path.join(dir, 'small')
    assert.equal(await offload.hashFile(new URL(`file://${small}`)), await offload.hashFile(small))
    assert.equal(await offload.hashFile(Buffer.from(small)), await offload.hashFile(small))
  })

  /** What fs.promises.readFile rejects with for the same path. */
  async function fsError(p) {
    try {
      await fs.promises.readFile(p)
    } catch (e) {
      return e
    }
    assert.fail(`reading ${p} should fail`)
  }

  function sameAsFs(e, expected, p) {
    assert.ok(e instanceof Error)
    for (const key of ['code', 'errno', 'syscall']) assert.equal(e[key], expected[key], key)
    // fs names the path of a failed read from Node 26 on (before, neither the message nor
    // .path had it); offload always does.
    assert.equal(e.message, expected.message.endsWith(`'${p}'`) ? expected.message : `${expected.message} '${p}'`)
    assert.equal(e.path, expected.path ?? p)
    return true
  }

  it('a missing path or a directory rejects as fs does', async () => {
    for (const p of [path.join(dir, 'missing'), dir]) {
      const expected = await fsError(p)
      await assert.rejects(offload.hashFile(p), (e) => sameAsFs(e, expected, p))
    }
  })

  it('an unreadable file rejects with EACCES', { skip: process.getuid?.() === 0 && 'root can read everything' }, async () => {
    const p = path.join(dir, 'secret')
    fs.writeFileSync(p, 'x')
    fs.chmodSync(p, 0)
    const expected = await fsError(p)
    await assert.rejects(offload.hashFile(p), (e) => sameAsFs(e, expected, p))
  })

  it('hashFiles names the path that failed', async () => {
    const ok = path.join(dir, 'ok')
    fs.writeFileSync(ok, 'fine')
    const missing = path.join(dir, 'nope', 'gone')
    await assert.rejects(offload.hashFiles([ok, missing, ok]), { code: 'ENOENT', path: missing, syscall: 'open' })
  })
})

suite('hash: cancellation and errors', () => {
  const big = Buffer.alloc(512 * 1024 * 1024, 1)

  it('an abort stops a large hash within 100 ms, and the next call works', async () => {
    for (const algorithm of ['sha256', 'blake3']) {
      const controller = new AbortController()
      const pending = offload.hash(big, { algorithm, signal: controller.signal })
      await new Promise((r) => setTimeout(r, 15))
      const t0 = performance.now()
      controller.abort('enough')
      await assert.rejects(pending, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause === 'enough')
      assert.ok(performance.now() - t0 < 100)
    }
    assert.equal(await offload.hash('abc', { algorithm: 'sha256' }), crypto.createHash('sha256').update('abc').digest('hex'))
  })

  it('an abort stops a large hashFiles', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-abort-'))
    try {
      const file = path.join(dir, 'big')
      fs.writeFileSync(file, big.subarray(0, 64 * 1024 * 1024))
      const controller = new AbortController()
      const pending = offload.hashFiles(Array(40).fill(file), { algorithm: 'sha256', signal: controller.signal })
      setTimeout(() => controller.abort(), 20)
      await assert.rejects(pending, { name: 'AbortError' })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  const bad = [
    [() => offload.hash(42), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hash(null), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hash([1, 2]), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hash('x', { algorithm: 'md5' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => offload.hash('x', { algorithm: 256 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hash('x', { encoding: 'latin1' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => offload.hashMany('abc'), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hashMany(['a', 7]), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hashFile(7), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hashFile(undefined), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hashFile('a\u0000b'), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => offload.hashFile(new URL('https://example.com/x')), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => offload.hashFiles(['ok', {}]), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => offload.hashFiles('not-an-array'), TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [call, Class, code] of bad) {
    it(`${code} for ${call.toString().slice(6)}`, async () => {
      let p
      assert.doesNotThrow(() => {
        p = call()
      })
      await assert.rejects(p, (e) => e instanceof Class && e.code === code)
    })
  }

  it('a detached input is ERR_INVALID_ARG_VALUE', async () => {
    const b = new Uint8Array(8)
    structuredClone(b.buffer, { transfer: [b.buffer] })
    await assert.rejects(offload.hash(b), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.hash(b.buffer), { code: 'ERR_INVALID_ARG_VALUE' })
  })
})
