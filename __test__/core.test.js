'use strict'

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { after, describe: suite, it } = require('node:test')

const offload = require('..')
const binding = require('../binding.js')
const reference = require('./reference.js')

// Large enough that a sort runs for a good while on 2 cores (and much longer on a busy one).
const LONG = 20_000_000
function longArray() {
  const a = new Float64Array(LONG)
  for (let i = 0; i < LONG; i++) a[i] = Math.sin(i) * 1e6
  return a
}
const long = longArray()

after(() => offload.configure({ maxInFlight: 2, maxQueue: Infinity }))

/** Waits until no call is running or queued (aborted native tasks finish a little later). */
const idle = () => reference.idle(offload, 10_000)

function isAbortError(error, reason) {
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
  assert.ok(error instanceof Error)
  assert.equal(error.cause, reason)
  return true
}

suite('cancellation', () => {
  it('an abort during a long sort, argsort or describe rejects with the reason, and the next call works', async () => {
    await idle()
    // sort and argsort of 20M values run far longer than 20 ms; describe is quick, so it is
    // aborted as soon as it has started
    for (const [run, delay] of [[offload.sort, 20], [offload.argsort, 20], [offload.describe, 0]]) {
      const controller = new AbortController()
      const reason = new Error('stop')
      const pending = run(long, { signal: controller.signal })
      setTimeout(() => controller.abort(reason), delay)
      await assert.rejects(pending, (e) => isAbortError(e, reason))
    }
    const ok = await offload.describe(new Float64Array([1, 2, 3]))
    assert.equal(ok.mean, 2)
  })

  it('rejects within 100 ms of abort() (measured from the abort call)', async () => {
    const controller = new AbortController()
    await idle()
    const pending = offload.sort(long, { signal: controller.signal })
    await new Promise((r) => setTimeout(r, 30))
    const t0 = performance.now()
    controller.abort()
    await assert.rejects(pending, (e) => isAbortError(e, controller.signal.reason))
    assert.ok(performance.now() - t0 < 100, 'rejected promptly')
    // the native task stops too: its slot frees long before a whole sort could finish
    await idle()
  })

  it('an already-aborted signal rejects at once, without running', async () => {
    const reason = { why: 'already' }
    const signal = AbortSignal.abort(reason)
    const before = offload.stats()
    await assert.rejects(offload.sort(long, { signal }), (e) => isAbortError(e, reason))
    const after = offload.stats()
    assert.equal(after.cancelled, before.cancelled + 1)
    assert.equal(after.completed, before.completed)
  })

  it('one signal can serve several calls at once and be reused after they end', async () => {
    const controller = new AbortController()
    const { signal } = controller
    const small = new Float64Array([3, 1, 2])
    for (let i = 0; i < 3; i++) assert.deepEqual(Array.from(await offload.sort(small, { signal })), [1, 2, 3])
    const many = [offload.sort(long, { signal }), offload.describe(long, { signal }), offload.argsort(long, { signal })]
    // Aborted in the same tick: none of them can have settled yet, however fast the machine
    // (a 10 ms timer lost the race to describe on a quick run).
    controller.abort()
    for (const p of many) await assert.rejects(p, { name: 'AbortError' })
    await assert.rejects(offload.sort(small, { signal }), { name: 'AbortError' })
  })

  it('aborting a queued call removes it from the queue', async () => {
    await idle()
    offload.configure({ maxInFlight: 1 })
    try {
      const first = offload.describe(long)
      const controller = new AbortController()
      const queued = offload.sort(long, { signal: controller.signal })
      assert.equal(offload.stats().queued, 1)
      controller.abort()
      await assert.rejects(queued, { name: 'AbortError' })
      assert.equal(offload.stats().queued, 0)
      await first
    } finally {
      offload.configure({ maxInFlight: 2 })
    }
  })
})

suite('errors', () => {
  const bad = [
    [() => offload.sort('abc'), TypeError, 'ERR_INVALID_ARG_TYPE', /"array" argument/],
    [() => offload.sort([3, 1, 2]), TypeError, 'ERR_INVALID_ARG_TYPE', /Received an instance of Array/],
    [() => offload.sort(new DataView(new ArrayBuffer(8))), TypeError, 'ERR_INVALID_ARG_TYPE', /DataView/],
    [() => offload.sort(new Float64Array(1), null), TypeError, 'ERR_INVALID_ARG_TYPE', /"options" argument/],
    [() => offload.sort(new Float64Array(1), { descending: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE', /options.descending/],
    [() => offload.sort(new Float64Array(1), { signal: {} }), TypeError, 'ERR_INVALID_ARG_TYPE', /AbortSignal/],
    [() => offload.describe(new Float64Array(1), { ddof: -1 }), RangeError, 'ERR_OUT_OF_RANGE', /options.ddof/],
    [() => offload.histogram(new Float64Array(1), { bins: 0 }), RangeError, 'ERR_OUT_OF_RANGE', /Received 0/],
    [() => offload.histogram(new Float64Array(1), { bins: 2.5 }), RangeError, 'ERR_OUT_OF_RANGE', /options.bins/],
    [() => offload.histogram(new Float64Array(1), { bins: '10' }), TypeError, 'ERR_INVALID_ARG_TYPE', /options.bins/],
    [() => offload.histogram(new Float64Array(1), { range: [1] }), TypeError, 'ERR_INVALID_ARG_VALUE', /options.range/],
    [() => offload.histogram(new Float64Array(1), { range: [2, 1] }), TypeError, 'ERR_INVALID_ARG_VALUE', /min <= max/],
    [() => offload.histogram(new Float64Array(1), { range: [0, Infinity] }), RangeError, 'ERR_OUT_OF_RANGE', /range\[1\]/],
    [() => offload.quantiles(new Float64Array(1), [0.5, 1.5]), RangeError, 'ERR_OUT_OF_RANGE', /probs\[1\]/],
    [() => offload.quantiles(new Float64Array(1), [NaN]), RangeError, 'ERR_OUT_OF_RANGE', /probs\[0\]/],
    [() => offload.quantiles(new Float64Array(1), 0.5), TypeError, 'ERR_INVALID_ARG_TYPE', /"probs" argument/],
    [() => offload.quantiles(new Float64Array(1), ['0.5']), TypeError, 'ERR_INVALID_ARG_TYPE', /probs\[0\]/],
  ]

  for (const [call, Class, code, message] of bad) {
    it(`${code} for ${call.toString().slice(6, 80)}`, async () => {
      let promise
      assert.doesNotThrow(() => {
        promise = call()
      }, 'never throws synchronously')
      await assert.rejects(promise, (e) => {
        assert.ok(e instanceof Class, `${e.constructor.name} is ${Class.name}`)
        assert.equal(e.code, code)
        assert.match(e.message, message)
        return true
      })
    })
  }

  it('a detached buffer is an ERR_INVALID_ARG_VALUE, for inputs and probabilities', async () => {
    const array = new Float64Array(16)
    structuredClone(array.buffer, { transfer: [array.buffer] })
    await assert.rejects(offload.sort(array), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /detached/ })
    const probs = new Float64Array([0.5])
    structuredClone(probs.buffer, { transfer: [probs.buffer] })
    await assert.rejects(offload.quantiles(new Float64Array(3), probs), { code: 'ERR_INVALID_ARG_VALUE' })
  })

  it('an empty array sorts to an empty array', async () => {
    assert.equal((await offload.sort(new Float64Array(0))).length, 0)
  })

  it('options with throwing getters reject instead of throwing', async () => {
    const options = {
      get descending() {
        throw new Error('getter')
      },
    }
    await assert.rejects(offload.sort(new Float64Array(1), options), /getter/)
  })

  it('a native error carries the caller\'s stack', async () => {
    const wide = new Float64Array([-Number.MAX_VALUE, Number.MAX_VALUE])
    await assert.rejects(offload.histogram(wide), (e) => {
      assert.equal(e.code, 'ERR_OUT_OF_RANGE')
      assert.ok(e instanceof RangeError)
      assert.match(e.stack, /core\.test\.js/)
      return true
    })
  })

  it('a panic in a kernel, or in a rayon closure, becomes a rejected promise', async () => {
    for (const inRayon of [false, true]) {
      await assert.rejects(binding.__panicForTests(inRayon, new binding.CancelToken()), (e) => {
        assert.equal(e.code, 'ERR_OFFLOAD_PANIC')
        assert.match(e.message, /test panic/)
        return true
      })
    }
    assert.equal((await offload.describe(new Float64Array([4]))).max, 4)
  })
})

suite('queue and settings', () => {
  it('runs at most maxInFlight at once, in FIFO order, and stats() adds up', async () => {
    await idle()
    offload.configure({ maxInFlight: 1 })
    try {
      const before = offload.stats()
      const order = []
      // Inputs above the inline limit, so every call goes through the queue; the first is long
      // enough to hold the one slot while the rest are submitted.
      const input = (i) => (i === 0 ? long : Float64Array.from({ length: 5000 }, (_, j) => (j * (i + 3)) % 977))
      const calls = Array.from({ length: 8 }, (_, i) =>
        offload.sort(input(i)).then((r) => {
          order.push(i)
          return r
        }),
      )
      const mid = offload.stats()
      assert.equal(mid.running, 1)
      assert.equal(mid.queued, 7)
      assert.equal(mid.inFlight, 1)
      const results = await Promise.all(calls)
      results.forEach((r, i) => assert.deepEqual(r, input(i).slice().sort()))
      assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
      const end = offload.stats()
      assert.equal(end.completed - before.completed, 8)
      assert.equal(end.running, 0)
      assert.equal(end.queued, 0)
    } finally {
      offload.configure({ maxInFlight: 2 })
    }
  })

  it('fs.promises.readFile completes while 8 long calls wait for the pool', async () => {
    assert.equal(offload.stats().maxInFlight, 2) // the default with UV_THREADPOOL_SIZE unset
    const calls = Array.from({ length: 8 }, () => offload.describe(long))
    let finished = 0
    calls.forEach((p) => p.then(() => finished++))
    const text = await fs.promises.readFile(__filename, 'utf8')
    assert.match(text, /readFile completes/)
    const stats = offload.stats()
    assert.ok(finished < 8, 'the file was read before the long calls were done')
    assert.ok(stats.running <= 2, 'never more than maxInFlight native tasks')
    await Promise.all(calls)
  })

  it('rejects past maxQueue with ERR_OFFLOAD_QUEUE_FULL', async () => {
    await idle()
    offload.configure({ maxInFlight: 1, maxQueue: 1 })
    try {
      const a = offload.describe(long)
      const b = offload.describe(long)
      await assert.rejects(offload.describe(long), { code: 'ERR_OFFLOAD_QUEUE_FULL' })
      await Promise.all([a, b])
    } finally {
      offload.configure({ maxInFlight: 2, maxQueue: Infinity })
    }
  })

  it('configure validates everything and returns the settings in force', () => {
    const cases = [
      [{ threads: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ threads: 1e9 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ threads: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ threads: '2' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      [{ maxInFlight: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxQueue: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
      [{ maxQueue: NaN }, RangeError, 'ERR_OUT_OF_RANGE'],
      ['x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ]
    for (const [options, Class, code] of cases) {
      assert.throws(() => offload.configure(options), (e) => e instanceof Class && e.code === code, JSON.stringify(options))
    }
    const cores = offload.stats().threads
    const { maxAllocation } = offload.stats()
    assert.deepEqual(offload.configure({ threads: 1 }), { threads: 1, maxInFlight: 2, maxQueue: Infinity, maxAllocation, niceIncrement: 10 })
    assert.equal(offload.stats().threads, 1)
    // any safe integer is a valid queue limit, also past 2 ** 32
    assert.equal(offload.configure({ maxQueue: 2 ** 40 }).maxQueue, 2 ** 40)
    offload.configure({ maxQueue: Infinity })
    assert.deepEqual(offload.configure({ threads: cores }).threads, cores)
    assert.deepEqual(Object.keys(offload.stats()).sort(), [
      'cancelled',
      'completed',
      'failed',
      'inFlight',
      'maxAllocation',
      'maxInFlight',
      'maxQueue',
      'niceIncrement',
      'queued',
      'running',
      'threads',
    ])
  })

  it('resizing the pool while a call runs does not disturb it', async () => {
    const pending = offload.sort(long)
    offload.configure({ threads: 1 })
    offload.configure({ threads: 2 })
    const sorted = await pending
    for (let i = 1; i < sorted.length; i += 9973) assert.ok(sorted[i - 1] <= sorted[i])
  })
})

suite('workers and exits', () => {
  // The timeout is a liveness bound: a process that hung (or waited for hours of native work
  // on exit) is killed and its test fails on the signal.
  // Under emulation (`npm run test:arm64`) the child Node runs through the same emulator.
  const [command, ...before] = [...JSON.parse(process.env.OFFLOAD_NODE_WRAP ?? '[]'), process.execPath]
  const run = (file, ...args) =>
    spawnSync(command, [...before, path.join(__dirname, 'fixtures', file), ...args], { encoding: 'utf8', timeout: 240_000 })

  it('buffers offload made can be passed back to it, and the process then exits cleanly', () => {
    const r = run('native-buffers-exit.js')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '64 3000 1,2,3')
  })

  it('loads in 8 worker threads and the main thread at once', () => {
    const r = run('many-workers.js')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /all 8 workers ok/)
  })

  it('terminating workers while their tasks run and wait, 200 times (20 under emulation), does not crash the process', { timeout: 300_000 }, () => {
    // Each worker starts a Node environment: under emulation that is seconds, so 20 there.
    const rounds = before.length ? 20 : 200
    const r = run('terminate-workers.js', String(rounds))
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.signal, null)
    assert.match(r.stdout, new RegExp(`terminated ${rounds} workers, exit codes 1`))
  })

  it('process.exit while tasks run and wait exits at once with its code', () => {
    const r = run('exit-while-busy.js', 'exit')
    assert.equal(r.signal, null, r.stderr)
    assert.equal(r.status, 3, r.stderr)
  })

  it('an uncaught exception while tasks run exits with code 1, not a crash', () => {
    const r = run('exit-while-busy.js', 'throw')
    assert.equal(r.signal, null, r.stderr)
    assert.equal(r.status, 1)
    assert.match(r.stderr, /uncaught while offload is busy/)
  })

  it('a worker that exits with tasks running and queued reports its code; the main thread goes on', () => {
    const r = run('exit-while-busy.js', 'worker-exit')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /worker exited with 5; main thread counted 168 primes/)
  })

  it('terminate() of a worker whose calls have hours left cancels them: it resolves, and the slots are free again', () => {
    const r = run('exit-while-busy.js', 'terminate')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /terminated with 1; in flight 0; main thread counted 168 primes/)
  })

  it('piscina: aborting a running task (piscina terminates its worker) and destroy() end offload calls with hours left', () => {
    const r = run('exit-while-busy.js', 'piscina')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /aborted task: AbortError; the other after destroy\(\): Terminating worker thread/)
  })

  it('aborting everything lets the process end by itself', () => {
    const r = run('exit-while-busy.js', 'abort-and-drain')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /settled 12: 12 aborted/)
  })
})
