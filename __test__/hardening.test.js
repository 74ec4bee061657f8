'use strict'

// Hardening: memory limits, inputs transferred or shrunk during a call, a panic in every
// operation, and a storm of mixed calls with random aborts.

const assert = require('node:assert/strict')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { after, describe: suite, it } = require('node:test')
const v8 = require('node:v8')
const vm = require('node:vm')

const offload = require('..')
const binding = require('../binding.js')
const plain = require('../benchmark/plain-algo.js')
const reference = require('./reference.js')

const { luma, rng, sortReference } = reference

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-hardening-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

const idle = () => reference.idle(offload)

function outOfMemory(e) {
  assert.ok(e instanceof RangeError, `${e.name}: ${e.message}`)
  assert.equal(e.code, 'ERR_OUT_OF_MEMORY')
  assert.match(e.message, /Cannot allocate .*\d+ (bytes|elements)/)
  return true
}

suite('memory limits', () => {
  it('a result over maxAllocation rejects with ERR_OUT_OF_MEMORY before allocating', async () => {
    const limit = offload.stats().maxAllocation
    assert.ok(limit > 0 && limit <= os.totalmem() / 2, `default limit ${limit}`)
    offload.configure({ maxAllocation: 2 ** 20 })
    try {
      const rgba = { data: new Uint8Array(16), width: 2, height: 2 }
      await assert.rejects(offload.primes(1e8), outOfMemory) // 5,761,455 primes: 23 MB
      await assert.rejects(offload.mandelbrot({ width: 1000, height: 1000 }), outOfMemory)
      await assert.rejects(offload.resize(rgba, { width: 1000, height: 1000 }), outOfMemory)
      await assert.rejects(offload.sort(new Float64Array(200_000)), outOfMemory)
      await assert.rejects(offload.argsort(new Float64Array(300_000)), outOfMemory)
      await assert.rejects(offload.blur({ data: new Uint8Array(2 ** 21), width: 1024, height: 512 }, { sigma: 1 }), outOfMemory)
      const m = { data: new Float64Array(512 * 512), rows: 512, cols: 512 }
      await assert.rejects(offload.matmul(m, m), outOfMemory)
      // Under the limit, the same kinds of calls work.
      assert.equal((await offload.primes(1e4)).length, 1229)
      assert.equal((await offload.resize(rgba, { width: 100, height: 100 })).data.length, 40_000)
    } finally {
      offload.configure({ maxAllocation: limit })
    }
    assert.equal(offload.stats().maxAllocation, limit)
  })

  it('configure checks maxAllocation', () => {
    for (const bad of [-1, 1.5, NaN, '1']) {
      assert.throws(() => offload.configure({ maxAllocation: bad }), (e) => ['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE'].includes(e.code))
    }
  })

  it('results longer than the longest typed array are refused up front', async () => {
    const { MAX_LENGTH } = require('node:buffer').constants
    if (MAX_LENGTH > 2 ** 40) {
      // Node 22 and later: a typed array may hold 2^53 - 1 elements, more than any memory, so
      // maxAllocation is what refuses such results, before anything is allocated.
      const before = offload.stats().maxAllocation
      offload.configure({ maxAllocation: 2 ** 30 })
      try {
        const pixel = { data: new Uint8Array(4), width: 1, height: 1 }
        await assert.rejects(offload.resize(pixel, { width: 46_000, height: 46_000 }), { code: 'ERR_OUT_OF_MEMORY' })
        const a = { data: new Float32Array(70_000), rows: 70_000, cols: 1 }
        const b = { data: new Float32Array(70_000), rows: 1, cols: 70_000 }
        await assert.rejects(offload.matmul(a, b), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_MEMORY')
      } finally {
        offload.configure({ maxAllocation: before })
      }
      return
    }
    const pixel = { data: new Uint8Array(4), width: 1, height: 1 }
    await assert.rejects(offload.resize(pixel, { width: 46_000, height: 46_000 }), { code: 'ERR_OUT_OF_RANGE' })
    const a = { data: new Float32Array(70_000), rows: 70_000, cols: 1 }
    const b = { data: new Float32Array(70_000), rows: 1, cols: 70_000 }
    await assert.rejects(offload.matmul(a, b), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && e.message.includes(String(MAX_LENGTH)))
  })

  it('when the OS refuses memory (ulimit -v), the failed allocation rejects and the process lives', () => {
    // One call at a time: run together, a call that is refused could hold (or be refused for)
    // address space another call needs, and which one gives out first would vary from run to run.
    const script = `
      const offload = require(${JSON.stringify(path.join(__dirname, '..'))})
      offload.configure({ maxAllocation: Infinity })
      const pixel = { data: new Uint8Array(4), width: 1, height: 1 }
      const calls = [
        () => offload.mandelbrot({ width: 40000, height: 40000, maxIterations: 1 }),
        () => offload.resize(pixel, { width: 30000, height: 30000, filter: 'nearest' }),
        // 2e8 results fit (1.6 GB); the candidates of 1,000 queries (1.6 GB more) do not.
        () => offload.topK({ data: new Float32Array(400_000), rows: 200_000, cols: 2 }, { data: new Float32Array(2_000).fill(1), rows: 1_000, cols: 2 }, 200_000, { metric: 'dot' }),
        // 4 GiB of argon2 memory and 4 GiB of scrypt memory: mmap is refused.
        () => offload.hashPassword('pw', { memoryCost: 2 ** 22, timeCost: 1 }),
        () => offload.hashPassword('pw', { algorithm: 'scrypt', N: 2 ** 22, r: 8 }),
        // The process lives and the next call works.
        () => offload.sort(new Float64Array(1e6).map((_, i) => -i)),
      ]
      ;(async () => {
        const out = []
        for (const call of calls) {
          try {
            const r = await call()
            out.push(r.length ?? r.data?.length ?? r.indices.length)
          } catch (e) {
            out.push([e.name, e.code])
          }
        }
        console.log(JSON.stringify(out))
      })()`
    // 3 GiB of address space: Node starts, a 6.4 GB or 3.6 GB buffer cannot be had.
    const r = spawnSync('/bin/sh', ['-c', `ulimit -v 3145728 && exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8', timeout: 120_000 })
    const said = `status ${r.status}, signal ${r.signal}, error ${r.error}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
    assert.equal(r.status, 0, said)
    assert.deepEqual(JSON.parse(r.stdout), [
      ['RangeError', 'ERR_OUT_OF_MEMORY'],
      ['RangeError', 'ERR_OUT_OF_MEMORY'],
      ['RangeError', 'ERR_OUT_OF_MEMORY'],
      ['RangeError', 'ERR_OUT_OF_MEMORY'],
      ['RangeError', 'ERR_OUT_OF_MEMORY'],
      1e6,
    ], said)
  })
})

suite('inputs transferred, shrunk or shared during a call', () => {
  const N = 8_000_000
  function big() {
    const a = new Float64Array(N)
    for (let i = 0; i < N; i++) a[i] = Math.sin(i) * 1e6
    return a
  }

  it('an input transferred away mid-task (then collected) is still read safely: it is marked untransferable', async () => {
    for (let round = 0; round < 3; round++) {
      const a = big()
      const expected = a.slice().sort()
      const pending = offload.sort(a, { inPlace: true })
      await new Promise((r) => setTimeout(r, round * 3))
      // Node 20 copies an untransferable buffer instead of moving it; Node 21+ throws. Either way
      // the memory the kernel uses stays with `a`.
      let moved
      try {
        moved = structuredClone(a.buffer, { transfer: [a.buffer] })
      } catch (e) {
        assert.equal(e.name, 'DataCloneError')
      }
      moved = null
      for (let i = 0; i < 3; i++) {
        gc()
        new Float64Array(N).fill(1) // reuse freed memory, if any had been freed
      }
      assert.equal(a.length, N, 'the input was not detached')
      const result = await pending
      assert.equal(result, a)
      for (let i = 0; i < N; i += 997) assert.equal(result[i], expected[i])
      assert.equal(moved, null)
    }
  })

  it('a hashed buffer posted with a transfer list mid-task keeps its bytes', async () => {
    const data = crypto.randomBytes(64 * 2 ** 20)
    const copy = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    const expected = crypto.createHash('sha256').update(copy).digest('hex')
    const bytes = new Uint8Array(copy.buffer)
    const pending = offload.hash(bytes, { algorithm: 'sha256' })
    const { port1, port2 } = new MessageChannel()
    try {
      port1.postMessage(bytes, [bytes.buffer])
    } catch (e) {
      assert.equal(e.name, 'DataCloneError')
    }
    port1.close()
    port2.close()
    gc()
    assert.equal(bytes.length, 64 * 2 ** 20)
    assert.equal(await pending, expected)
  })

  it('a resizable ArrayBuffer is refused (it could shrink under the kernel); a growable shared one is fine', async () => {
    const rab = new ArrayBuffer(64, { maxByteLength: 128 })
    await assert.rejects(offload.sort(new Float64Array(rab)), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE' && /resizable/.test(e.message))
    await assert.rejects(offload.hash(rab), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.grayscale({ data: new Uint8Array(rab), width: 4, height: 4, channels: 4 }), { code: 'ERR_INVALID_ARG_VALUE' })
    const sab = new SharedArrayBuffer(8 * 5, { maxByteLength: 8 * 10 })
    const shared = new Float64Array(sab)
    shared.set([3, 1, 2, 5, 4])
    assert.deepEqual(Array.from(await offload.sort(shared)), [1, 2, 3, 4, 5])
    assert.equal(await offload.hash(shared, { algorithm: 'sha256' }), crypto.createHash('sha256').update(new Uint8Array(sab)).digest('hex'))
  })

  it('a view whose getters lie is read by its real size', async () => {
    class Liar extends Float64Array {
      get length() {
        return 1e9
      }
      get byteLength() {
        return 3
      }
    }
    const liar = new Liar(4)
    liar.set([4, 3, 2, 1])
    assert.deepEqual(Array.from(await offload.sort(liar)), [1, 2, 3, 4])
    assert.equal((await offload.describe(liar)).count, 4)
    const m = { data: liar, rows: 2, cols: 2 }
    assert.deepEqual(Array.from((await offload.matmul(m, m)).data), [22, 15, 10, 7])
  })
})

suite('panics', () => {
  // The hook makes the 2nd cancellation check from now panic: the 1st is in the task itself,
  // the 2nd inside the kernel (often on a rayon worker thread).
  const file = path.join(tmp, 'panic.bin')
  fs.writeFileSync(file, Buffer.alloc(10 * 2 ** 20, 1))
  const floats = Float64Array.from({ length: 1_000_000 }, (_, i) => Math.cos(i))
  const img = { data: new Uint8Array(512 * 512 * 4).fill(90), width: 512, height: 512 }
  const mat = { data: new Float64Array(256 * 256).fill(1), rows: 256, cols: 256 }
  const gz = require('node:zlib').gzipSync(Buffer.alloc(4 << 20, 2))
  const gzFile = path.join(tmp, 'panic.bin.gz')
  fs.writeFileSync(gzFile, gz)
  const csvText = 'a,b\n' + '1.5,x\n'.repeat(400_000)
  const csvFile = path.join(tmp, 'panic.csv')
  fs.writeFileSync(csvFile, csvText)
  const sink = () => new Writable({ write: (chunk, encoding, callback) => callback() })
  const calls = {
    sort: () => offload.sort(floats),
    argsort: () => offload.argsort(floats),
    describe: () => offload.describe(floats),
    quantiles: () => offload.quantiles(floats, [0.5]),
    histogram: () => offload.histogram(floats),
    hash: () => offload.hash(new Uint8Array(10 * 2 ** 20)),
    hashMany: () => offload.hashMany(Array.from({ length: 64 }, () => new Uint8Array(1000))),
    hashFile: () => offload.hashFile(file),
    hashFiles: () => offload.hashFiles([file, file]),
    countPrimes: () => offload.countPrimes(1e8),
    primes: () => offload.primes(1e7),
    matmul: () => offload.matmul(mat, mat),
    mandelbrot: () => offload.mandelbrot({ width: 64, height: 64 }),
    grayscale: () => offload.grayscale(img),
    blur: () => offload.blur(img, { sigma: 2 }),
    resize: () => offload.resize(img, { width: 100 }),
    compress: () => offload.compress(new Uint8Array(8 << 20)),
    decompress: () => offload.decompress(gz),
    compressFile: () => offload.compressFile(file, path.join(tmp, 'panic.gz')),
    decompressFile: () => offload.decompressFile(gzFile, path.join(tmp, 'panic.out')),
    createCompressStream: () => pipeline(Readable.from([Buffer.alloc(4 << 20, 3)]), offload.createCompressStream(), sink()),
    createDecompressStream: () => pipeline(Readable.from([gz]), offload.createDecompressStream(), sink()),
    hashStream: () => offload.hashStream(Readable.from([Buffer.alloc(1 << 20, 5)])),
    parseCsv: () => offload.parseCsv(csvText),
    topK: () => offload.topK(mat, mat, 5),
    readCsv: () => offload.readCsv(csvFile),
    groupBy: () => offload.groupBy(Int32Array.from(floats, (x) => Math.round(x * 10)), floats, { aggregations: ['mean', 'std'], quantiles: [0.5] }),
    hashPassword: () => offload.hashPassword('pw', { memoryCost: 1024, timeCost: 1 }),
    verifyPassword: () => offload.verifyPassword('$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', 'pw'),
  }

  it('every operation is covered', () => {
    // needsRehash is synchronous and hashes nothing (no kernel to panic in).
    const ops = Object.keys(offload).filter((k) => typeof offload[k] === 'function' && !['configure', 'stats', 'AbortError', 'needsRehash'].includes(k))
    assert.deepEqual(Object.keys(calls).sort(), ops.sort())
  })

  for (const [name, call] of Object.entries(calls)) {
    it(`a panic inside ${name} rejects its promise with ERR_OFFLOAD_PANIC; the next call works`, async () => {
      await idle()
      binding.__panicAtCheck(2)
      try {
        await assert.rejects(call(), (e) => {
          assert.equal(e.code, 'ERR_OFFLOAD_PANIC', `${e.code}: ${e.message}`)
          assert.match(e.message, /a Rust panic was caught\): test panic at a cancellation check/)
          return true
        })
      } finally {
        binding.__panicAtCheck(0)
      }
      await call()
    })
  }
})

suite('call storm', () => {
  const TOTAL = 10_000
  const random = rng(20261126)
  const floats = Array.from({ length: 16 }, (_, i) => Float64Array.from({ length: 50 + i * 37 }, () => (random() - 0.5) * 1e3))
  const strings = Array.from({ length: 16 }, (_, i) => `storm ${i} `.repeat(i * 10))
  const view = { width: 24, height: 16, maxIterations: 200 }
  const mandelbrotExpected = Uint32Array.from(plain.mandelbrot(view))
  const gray = { data: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 256), width: 8, height: 8 }
  const grayExpected = Uint8Array.from({ length: 64 }, (_, i) => luma(...gray.data.subarray(3 * i, 3 * i + 3)))

  /** One call of a random kind and the check of its result. */
  function makeCall(i, signal) {
    const pick = Math.floor(random() * 6)
    const k = i % 16
    switch (pick) {
      case 0: {
        const a = floats[k]
        return [offload.sort(a, { signal }), (r) => assert.deepEqual(r, sortReference(a))]
      }
      case 1:
        return [offload.hash(strings[k], { algorithm: 'sha256', signal }), (r) => assert.equal(r, crypto.createHash('sha256').update(strings[k]).digest('hex'))]
      case 2:
        return [offload.countPrimes(1000 + k * 1000, { signal }), (r) => assert.equal(r, plain.countPrimes(1000 + k * 1000))]
      case 3:
        return [offload.mandelbrot({ ...view, signal }), (r) => assert.deepEqual(r, mandelbrotExpected)]
      case 4: {
        const a = floats[k]
        return [offload.describe(a, { signal }), (r) => assert.equal(r.max, Math.max(...a))]
      }
      default:
        return [offload.grayscale(gray, { signal }), (r) => assert.deepEqual(r.data, grayExpected)]
    }
  }

  /** 10,000 calls issued in batches, a third with an abort at a random moment. */
  async function storm() {
    const before = offload.stats()
    const outcomes = { resolved: 0, aborted: 0 }
    const pending = []
    const abortTimers = []
    for (let i = 0; i < TOTAL; i++) {
      const controller = random() < 1 / 3 ? new AbortController() : null
      const reason = new Error(`abort ${i}`)
      const when = random()
      if (controller && when < 0.1) controller.abort(reason) // before the call
      const [promise, check] = makeCall(i, controller?.signal)
      if (controller && when >= 0.1) {
        if (when < 0.3) controller.abort(reason)
        else if (when < 0.5) queueMicrotask(() => controller.abort(reason))
        else abortTimers.push(setTimeout(() => controller.abort(reason), Math.floor(random() * 30)))
      }
      let settledTimes = 0
      pending.push(
        promise.then(
          (value) => {
            settledTimes++
            check(value)
            outcomes.resolved++
            return () => settledTimes
          },
          (error) => {
            settledTimes++
            assert.ok(controller, `a call without a signal failed: ${error.message}`)
            assert.equal(error.name, 'AbortError')
            assert.equal(error.code, 'ABORT_ERR')
            assert.equal(error.cause, reason)
            outcomes.aborted++
            return () => settledTimes
          },
        ),
      )
      if (i % 250 === 249) await new Promise((r) => setImmediate(r)) // let the loop breathe
    }
    const counts = await Promise.all(pending)
    await new Promise((r) => setTimeout(r, 40))
    abortTimers.forEach(clearTimeout)
    // Each promise settled exactly once, even with late aborts.
    assert.ok(counts.every((count) => count() === 1))
    await idle()
    const end = offload.stats()
    assert.equal(outcomes.resolved + outcomes.aborted, TOTAL)
    assert.equal(end.completed - before.completed, outcomes.resolved)
    assert.equal(end.cancelled - before.cancelled, outcomes.aborted)
    assert.equal(end.failed - before.failed, 0)
    assert.ok(outcomes.aborted > TOTAL / 10, `aborted ${outcomes.aborted}`)
    return outcomes
  }

  function memory() {
    for (let i = 0; i < 4; i++) gc()
    const { rss, arrayBuffers } = process.memoryUsage()
    return { rss, arrayBuffers }
  }

  it('10,000 mixed calls, a third aborted at random moments: all settle once, correctly, and memory returns', { timeout: 300_000 }, async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    await storm() // warm-up: pools, arenas and JIT reach their working size
    const start = memory()
    const second = await storm()
    const end = memory()
    delay.disable()
    assert.ok(second.resolved > 0 && second.aborted > 0)
    // Memory returns to where it was after the warm-up (allowing for allocator noise).
    assert.ok(end.arrayBuffers - start.arrayBuffers < 8 * 2 ** 20, `arrayBuffers grew ${end.arrayBuffers - start.arrayBuffers}`)
    assert.ok(end.rss - start.rss < 64 * 2 ** 20, `rss grew ${(end.rss - start.rss) / 2 ** 20} MiB`)
    // A liveness check, not a timing: the loop kept turning while 20,000 calls came and went.
    assert.ok(delay.max < 2e9, `the event loop stalled for ${delay.max / 1e6} ms`)
  })
})
