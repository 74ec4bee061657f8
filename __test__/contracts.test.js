'use strict'

// What arrives at run time is what index.d.ts declares, every settled call is counted once,
// and misspelt options are refused instead of silently ignored.

const assert = require('node:assert/strict')
const { describe, it } = require('node:test')

const offload = require('..')
const { KINDS } = require('./reference.js')

const isExactly = (value, Class) => Object.getPrototypeOf(value) === Class.prototype

describe('result kinds', () => {
  const inputs = [...KINDS.map((Kind) => [Kind.name, () => new Kind([3, 1, 2].map((x) => (Kind.name.startsWith('Big') ? BigInt(x) : x)))]), ['Buffer', () => Buffer.from([3, 1, 2])]]
  for (const [name, make] of inputs) {
    it(`${name}: sort gives the same kind, in place the array itself; the others their documented kinds`, async () => {
      const input = make()
      const Kind = name === 'Buffer' ? Buffer : input.constructor
      const sorted = await offload.sort(input)
      assert.ok(isExactly(sorted, Kind), `sort(${name}) gave ${sorted.constructor.name}`)
      assert.deepEqual(Array.from(sorted, Number), [1, 2, 3])
      assert.notEqual(sorted.buffer, input.buffer)
      const descending = await offload.sort(input, { descending: true })
      assert.ok(isExactly(descending, Kind))
      assert.equal(await offload.sort(input, { inPlace: true }), input)
      assert.ok(isExactly(await offload.argsort(input), Uint32Array))
      assert.ok(isExactly(await offload.quantiles(input, [0.5]), Float64Array))
      const { counts, edges } = await offload.histogram(input, { bins: 2 })
      assert.ok(isExactly(counts, Float64Array) && isExactly(edges, Float64Array))
    })
  }

  it('a sorted Buffer is a real Buffer: toString("hex") gives hex', async () => {
    const sorted = await offload.sort(Buffer.from([3, 1, 2]))
    assert.equal(sorted.toString('hex'), '010203')
  })

  it('the other operations give the kinds their types name', async () => {
    assert.ok(isExactly(await offload.primes(30), Uint32Array))
    assert.ok(isExactly(await offload.mandelbrot({ width: 2, height: 2 }), Uint32Array))
    for (const Kind of [Float64Array, Float32Array]) {
      const m = { data: new Kind([1, 2, 3, 4]), rows: 2, cols: 2 }
      assert.ok(isExactly((await offload.matmul(m, m)).data, Kind))
    }
    for (const data of [new Uint8Array(16), new Uint8ClampedArray(16), Buffer.alloc(16)]) {
      const image = { data, width: 2, height: 2, channels: 4 }
      for (const result of [await offload.grayscale(image), await offload.blur(image, { sigma: 1 }), await offload.resize(image, { width: 1 })]) {
        assert.ok(isExactly(result.data, Uint8Array), result.data.constructor.name)
      }
    }
    assert.ok(isExactly(await offload.hash('x', { encoding: 'buffer' }), Buffer))
    assert.equal(typeof (await offload.hash('x')), 'string')
  })
})

describe('stats() counts every settled call once', () => {
  it('bad arguments count as failed, aborts as cancelled, results as completed', async () => {
    const before = offload.stats()
    const outcomes = await Promise.allSettled([
      offload.sort('not an array'),
      offload.sort(new Float64Array(2), { decending: true }),
      offload.countPrimes(-1),
      offload.describe(new Float64Array(2), { signal: AbortSignal.abort() }),
      offload.describe(new Float64Array(2)),
    ])
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled'])
    const after = offload.stats()
    assert.equal(after.failed - before.failed, 3)
    assert.equal(after.cancelled - before.cancelled, 1)
    assert.equal(after.completed - before.completed, 1)
  })

  it('a bad argument still rejects (never throws) and keeps the caller\'s stack', async () => {
    let promise
    assert.doesNotThrow(() => {
      promise = offload.hash(42)
    })
    await assert.rejects(promise, (e) => e.code === 'ERR_INVALID_ARG_TYPE' && e.stack.includes('contracts.test.js'))
  })
})

describe('misspelt options are refused', () => {
  const cases = [
    ['sort', () => offload.sort(new Float64Array(3), { decending: true }), 'descending'],
    ['argsort', () => offload.argsort(new Float64Array(3), { Descending: true }), 'descending'],
    ['describe', () => offload.describe(new Float64Array(3), { dof: 1 }), 'ddof'],
    ['quantiles', () => offload.quantiles(new Float64Array(3), [0.5], { signl: undefined }), 'signal'],
    ['histogram', () => offload.histogram(new Float64Array(3), { bin: 4 }), 'bins'],
    ['hash', () => offload.hash('x', { algo: 'sha256' }), 'algorithm'],
    ['hashMany', () => offload.hashMany(['x'], { encodng: 'hex' }), 'encoding'],
    ['hashFile', () => offload.hashFile('package.json', { algorithim: 'sha256' }), 'algorithm'],
    ['hashFiles', () => offload.hashFiles(['package.json'], { signals: undefined }), 'signal'],
    ['countPrimes', () => offload.countPrimes(10, { timeout: 5 }), undefined],
    ['primes', () => offload.primes(10, { signall: undefined }), 'signal'],
    ['matmul', () => offload.matmul({ data: new Float64Array(1), rows: 1, cols: 1 }, { data: new Float64Array(1), rows: 1, cols: 1 }, { parallel: true }), undefined],
    ['mandelbrot', () => offload.mandelbrot({ width: 4, height: 4, maxIter: 5 }), 'maxIterations'],
    ['grayscale', () => offload.grayscale({ data: new Uint8Array(4), width: 1, height: 1 }, { alpha: false }), undefined],
    ['blur', () => offload.blur({ data: new Uint8Array(4), width: 1, height: 1 }, { sigma: 1, radius: 3 }), undefined],
    ['resize', () => offload.resize({ data: new Uint8Array(4), width: 1, height: 1 }, { width: 2, fit: 'cover' }), undefined],
  ]
  for (const [name, call, guess] of cases) {
    it(`${name}`, async () => {
      await assert.rejects(call(), (e) => {
        assert.ok(e instanceof TypeError, e)
        assert.equal(e.code, 'ERR_INVALID_ARG_VALUE')
        assert.match(e.message, /is not a known option/)
        assert.match(e.message, /the options are: /)
        if (guess !== undefined) assert.ok(e.message.includes(`did you mean '${guess}'`), e.message)
        return true
      })
    })
  }

  it('configure() throws for a misspelt setting and applies nothing', () => {
    const before = offload.configure()
    assert.throws(
      () => offload.configure({ thread: 1, maxQueue: 3 }),
      (e) => e.code === 'ERR_INVALID_ARG_VALUE' && e.message.includes("did you mean 'threads'"),
    )
    assert.deepEqual(offload.configure(), before)
  })
})

describe('encoded images', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')
  const jpeg = Buffer.from('ffd8ffe000104a464946', 'hex')
  for (const [format, bytes] of [['PNG', png], ['JPEG', jpeg]]) {
    it(`a ${format} file passed as the image says raw pixels are expected and how to decode`, async () => {
      for (const op of [offload.resize, offload.blur, offload.grayscale]) {
        await assert.rejects(op(bytes, { width: 2, sigma: 1 }), (e) => {
          assert.equal(e.code, 'ERR_INVALID_ARG_TYPE')
          assert.ok(e.message.includes(`an encoded ${format} file`), e.message)
          assert.ok(e.message.includes('raw pixels') && e.message.includes('sharp('), e.message)
          return true
        })
      }
    })
  }
})
