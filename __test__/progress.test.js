'use strict'

// onProgress: reports while the kernel runs (never done === total early), one last report with
// done === total just before the Promise resolves, none after it settles; a callback that
// throws stops the kernel and rejects the call with its error; the totals are in each
// operation's documented unit.

const assert = require('node:assert/strict')
const { after, before, describe, it } = require('node:test')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const offload = require('..')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-progress-'))
  const chunk = Buffer.alloc(16 << 20, 7)
  fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.concat([chunk, chunk, chunk, chunk])) // 64 MiB
  fs.writeFileSync(path.join(dir, 'b.bin'), chunk.subarray(0, 12345))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

const floats = (n) => {
  const a = new Float64Array(n)
  let x = 12345
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    a[i] = x / 2 ** 32 - 0.5
  }
  return a
}
const image = (width, height) => ({ data: Buffer.alloc(width * height * 4, 90), width, height, channels: 4 })

/** [name, expected total, call(options)]: each takes a good fraction of a second here. */
const cases = () => [
  ['sort', 4e6, (o) => offload.sort(floats(4e6), o)],
  ['sort inPlace', 4e6, (o) => offload.sort(floats(4e6), { ...o, inPlace: true })],
  ['argsort', 3e6, (o) => offload.argsort(floats(3e6), o)],
  ['hash sha256', 128 << 20, (o) => offload.hash(Buffer.alloc(128 << 20, 1), { ...o, algorithm: 'sha256' })],
  ['hashMany', 3 * (32 << 20), (o) => offload.hashMany([1, 2, 3].map((b) => Buffer.alloc(32 << 20, b)), { ...o, algorithm: 'sha512' })],
  ['hashFile', 64 << 20, (o) => offload.hashFile(path.join(dir, 'a.bin'), { ...o, algorithm: 'sha256' })],
  ['hashFiles', (64 << 20) + 12345, (o) => offload.hashFiles([path.join(dir, 'a.bin'), path.join(dir, 'b.bin')], { ...o, algorithm: 'sha256' })],
  ['countPrimes', 3e9, (o) => offload.countPrimes(3e9, o)],
  ['primes', 4e8, (o) => offload.primes(4e8, o)],
  ['matmul', 1200, (o) => offload.matmul({ data: floats(1200 * 1200), rows: 1200, cols: 1200 }, { data: floats(1200 * 1200), rows: 1200, cols: 1200 }, o)],
  ['mandelbrot', 600, (o) => offload.mandelbrot({ ...o, width: 800, height: 600, maxIterations: 3000 })],
  ['blur', 2160, (o) => offload.blur(image(3840, 2160), { ...o, sigma: 8 })],
  ['resize', 1080, (o) => offload.resize(image(3840, 2160), { ...o, width: 1920, height: 1080 })],
  ['compress', logs().length, (o) => offload.compress(logs(), { ...o, level: 9 })],
  ['decompress', gzipped().length, (o) => offload.decompress(gzipped(), o)],
  ['compressFile', logs().length, (o) => offload.compressFile(logsFile(), path.join(dir, 'logs.gz'), { ...o, level: 9 })],
  ['parseCsv', csv().length, (o) => offload.parseCsv(csv(), { ...o, columns: { a: 'float64', b: 'date' } })],
  ['topK', 200_000 * 64, (o) => offload.topK({ data: new Float32Array(200_000 * 96).fill(0.5), rows: 200_000, cols: 96 }, { data: new Float32Array(64 * 96).fill(1), rows: 64, cols: 96 }, 10, o)],
]

let logText
let gz
let csvText
function logs() {
  logText ??= require('./fixtures/logs.js').logLines(48e6, 5)
  return logText
}
function gzipped() {
  gz ??= require('node:zlib').gzipSync(logs(), { level: 1 })
  return gz
}
function logsFile() {
  const file = path.join(dir, 'logs.json')
  if (!fs.existsSync(file)) fs.writeFileSync(file, logs())
  return file
}
function csv() {
  if (csvText === undefined) {
    const lines = ['a,b']
    for (let i = 0; i < 1_500_000; i++) lines.push(`${i * 0.25},2026-11-27T10:${String(i % 60).padStart(2, '0')}:00Z`)
    csvText = Buffer.from(lines.join('\n'))
  }
  return csvText
}

describe('onProgress', () => {
  for (const [name, total, call] of cases()) {
    it(`${name}: reports in its unit, ends with done === total, never after settling`, async () => {
      const reports = []
      let settled = false
      const onProgress = (p) => {
        assert.equal(settled, false, 'a report after the Promise settled')
        reports.push(p)
      }
      const start = performance.now()
      await call({ onProgress, progressInterval: 5 })
      const took = performance.now() - start
      settled = true
      await sleep(30) // a timer that outlived the call would report now
      assert.ok(reports.length >= 1)
      const last = reports.at(-1)
      assert.deepEqual(last, { done: total, total }, 'the last report')
      const before = reports.slice(0, -1)
      // A call that ran for many intervals was seen while it ran, not only at its end.
      if (took > 60) assert.ok(before.length >= 1, `${before.length} reports during ${took.toFixed(0)} ms`)
      for (const [i, p] of before.entries()) {
        assert.equal(p.total, total)
        assert.ok(Number.isInteger(p.done) && p.done >= 0 && p.done < total, `report ${i}: ${JSON.stringify(p)}`)
        if (i > 0) assert.ok(p.done > before[i - 1].done, 'done only grows')
      }
    })
  }

  it('reports changes at most every progressInterval', async () => {
    const times = []
    await offload.countPrimes(1e10, { onProgress: () => times.push(performance.now()), progressInterval: 50 })
    assert.ok(times.length >= 3, `${times.length} reports`)
    for (let i = 1; i < times.length - 1; i++) assert.ok(times[i] - times[i - 1] >= 45, `gap ${times[i] - times[i - 1]} ms`)
  })

  it('a callback that throws stops the kernel and rejects with its error', async () => {
    const thrown = new Error('stop here')
    const start = performance.now()
    let calls = 0
    // Many seconds of work unless the kernel stops.
    const call = offload.countPrimes(2e11, {
      progressInterval: 10,
      onProgress: () => {
        calls++
        throw thrown
      },
    })
    await assert.rejects(call, (e) => e === thrown)
    assert.equal(calls, 1)
    for (let i = 0; i < 100 && offload.stats().inFlight > 0; i++) await sleep(5)
    assert.equal(offload.stats().inFlight, 0, 'the kernel stopped')
    assert.ok(performance.now() - start < 2000)
  })

  it('a throw from the last report rejects the call; the result is not delivered', async () => {
    const thrown = new RangeError('no')
    await assert.rejects(
      offload.sort(new Float64Array([3, 1, 2]), { onProgress: (p) => { if (p.done === p.total) throw thrown } }),
      (e) => e === thrown,
    )
  })

  it('a tiny (inline) call reports once, done === total', async () => {
    const reports = []
    const sorted = await offload.sort(new Float64Array([2, 1]), { onProgress: (p) => reports.push(p) })
    assert.deepEqual(Array.from(sorted), [1, 2])
    assert.deepEqual(reports, [{ done: 2, total: 2 }])
    const empty = []
    await offload.hash('', { onProgress: (p) => empty.push(p) })
    assert.deepEqual(empty, [{ done: 0, total: 0 }])
  })

  it('an aborted call makes no more reports', async () => {
    const controller = new AbortController()
    let after = 0
    let aborted = false
    const call = offload.countPrimes(1e11, {
      signal: controller.signal,
      progressInterval: 5,
      onProgress: () => { if (aborted) after++ },
    })
    await sleep(100)
    aborted = true
    controller.abort()
    await assert.rejects(call, { name: 'AbortError' })
    await sleep(50)
    assert.equal(after, 0)
  })

  it('bad progress options are Node-style errors', async () => {
    const a = new Float64Array(10)
    await assert.rejects(offload.sort(a, { onProgress: 'yes' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /options\.onProgress/ })
    await assert.rejects(offload.sort(a, { onProgress() {}, progressInterval: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /options\.progressInterval/ })
    await assert.rejects(offload.sort(a, { onProgress() {}, progressInterval: 1.5 }), { code: 'ERR_OUT_OF_RANGE' })
    // Operations that finish in a pass over memory take no progress option.
    await assert.rejects(offload.describe(a, { onProgress() {} }), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.onProgress/ })
  })
})
