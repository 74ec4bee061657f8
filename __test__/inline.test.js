'use strict'

// Tiny inputs run on the calling thread and return an already-settled Promise. The public
// functions decide by size: at a limit the call runs inline (stats().running never moves), one
// past it the call takes the thread hop. Either way the results and the errors are the same:
// the same kernel runs behind the same error mapping, which is checked here by running each
// input both ways through the binding.

const assert = require('node:assert/strict')
const { describe, it } = require('node:test')

const offload = require('..')
const native = require('../binding.js')
const { LIMITS } = require('../lib/inline.js')

const inlineToken = () => new native.CancelToken(true)
const threadToken = () => new native.CancelToken()
const floats = (n) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1000)
const bytes = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255)
const side = (n) => Math.floor(Math.sqrt(n))

/** [name, limit, make(size) => [publicCall, bindingCall(token)]] */
const cases = [
  ['sort', LIMITS.sort, (n) => { const a = floats(n); return [() => offload.sort(a), (t) => native.sortCopy(a, false, t)] }],
  ['argsort', LIMITS.argsort, (n) => { const a = floats(n); return [() => offload.argsort(a, { descending: true }), (t) => native.argsort(a, true, t)] }],
  ['describe', LIMITS.describe, (n) => { const a = floats(n); return [() => offload.describe(a, { ddof: 1 }), (t) => native.describe(a, 1, t)] }],
  ['histogram', LIMITS.histogram, (n) => { const a = floats(n); return [() => offload.histogram(a, { bins: 33 }), (t) => native.histogram(a, 33, undefined, undefined, t)] }],
  ...Object.entries(LIMITS.hash).map(([algorithm, limit]) => [
    `hash ${algorithm}`,
    limit,
    (n) => { const b = bytes(n); return [() => offload.hash(b, { algorithm, encoding: 'buffer' }), (t) => native.hashBytes(b, algorithm, t)] },
  ]),
  ['matmul', LIMITS.matmul, (n) => {
    // rows x inner x cols = n exactly: 1 x 1 x n
    const a = { data: new Float64Array([1.5]), rows: 1, cols: 1 }
    const b = { data: floats(n), rows: 1, cols: n }
    return [() => offload.matmul(a, b), (t) => native.matmulF64(a.data, b.data, 1, 1, n, t)]
  }],
  ['grayscale', LIMITS.grayscale, (n) => {
    const d = bytes(n * 3)
    return [() => offload.grayscale({ data: d, width: n, height: 1, channels: 3 }), (t) => native.grayscale(d, n, 1, 3, t)]
  }],
  ['resize', LIMITS.resize, (n) => {
    const w = Math.max(2, side(n) + (n > LIMITS.resize ? 1 : 0))
    const d = bytes(w * w * 4)
    return [() => offload.resize({ data: d, width: w, height: w }, { width: w - 1, height: w - 1 }), (t) => native.resize(d, w, w, 4, w - 1, w - 1, 'lanczos3', t)]
  }],
]

const plain = (x) => (ArrayBuffer.isView(x) ? Array.from(x, (v) => (typeof v === 'bigint' ? v : Object.is(v, -0) ? '-0' : v)) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)])) : x)

describe('tiny inputs run inline with the same results as the threaded path', () => {
  for (const [name, limit, make] of cases) {
    it(`${name}: at the limit (${limit}) inline, one past it threaded, the same results both ways`, async () => {
      for (const [size, inline] of [[limit, true], [limit + 1, false], [1, true]]) {
        const [publicCall, bindingCall] = make(size)
        const before = offload.stats()
        const pending = publicCall()
        const running = offload.stats().running - before.running
        assert.equal(running, inline ? 0 : 1, `${name} of ${size}: ${inline ? 'inline' : 'threaded'} expected`)
        await pending
        const [viaInline, viaThread] = await Promise.all([bindingCall(inlineToken()), bindingCall(threadToken())])
        assert.deepEqual(plain(viaInline), plain(viaThread), `${name} of ${size}`)
      }
    })
  }

  it('the tiny-input targets: a 1-element describe and a 1 KiB hash skip the thread hop', async () => {
    for (const call of [() => offload.describe(new Float64Array([1])), () => offload.hash(Buffer.alloc(1024))]) {
      const before = offload.stats()
      const pending = call()
      assert.equal(offload.stats().running, before.running)
      assert.equal(offload.stats().completed, before.completed, 'counted when it settles')
      await pending
      assert.equal(offload.stats().completed, before.completed + 1)
    }
  })
})

describe('tiny inputs fail the same way as the threaded path', () => {
  it('an allocation over maxAllocation: same class, code and message both ways', async () => {
    const before = offload.configure()
    offload.configure({ maxAllocation: 1000 })
    try {
      const a = floats(LIMITS.sort)
      const errors = []
      for (const token of [inlineToken(), threadToken()]) {
        errors.push(await native.sortCopy(a, false, token).then(() => null, (e) => e))
      }
      const [inline, thread] = errors
      assert.ok(inline instanceof RangeError && thread instanceof RangeError)
      assert.equal(inline.code, 'ERR_OUT_OF_MEMORY')
      assert.deepEqual([inline.code, inline.message], [thread.code, thread.message])
      await assert.rejects(offload.sort(a), { code: 'ERR_OUT_OF_MEMORY', message: inline.message })
    } finally {
      offload.configure({ maxAllocation: before.maxAllocation })
    }
  })

  it('a panic in an inline kernel rejects with ERR_OFFLOAD_PANIC, and the process lives on', async () => {
    for (const inRayon of [false, true]) {
      await assert.rejects(native.__panicForTests(inRayon, inlineToken()), { code: 'ERR_OFFLOAD_PANIC' })
    }
    assert.equal((await offload.describe(new Float64Array([2]))).max, 2)
  })

  it('a pre-aborted signal rejects a tiny call without running it; a bad argument is a rejection, counted as failed', async () => {
    const reason = new Error('stop')
    const before = offload.stats()
    await assert.rejects(offload.describe(new Float64Array([1]), { signal: AbortSignal.abort(reason) }), (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause === reason)
    await assert.rejects(offload.hash('x', { algorithm: 'md5' }), { code: 'ERR_INVALID_ARG_VALUE' })
    const after = offload.stats()
    assert.equal(after.cancelled - before.cancelled, 1)
    assert.equal(after.failed - before.failed, 1)
  })

  it('an inline error carries the caller\'s stack', async () => {
    const before = offload.configure()
    offload.configure({ maxAllocation: 10 })
    try {
      await assert.rejects(offload.sort(floats(100)), (e) => e.code === 'ERR_OUT_OF_MEMORY' && e.stack.includes('inline.test.js'))
    } finally {
      offload.configure({ maxAllocation: before.maxAllocation })
    }
  })
})
