'use strict'

// The libuv pool belongs to the process, so the limit on native calls in flight does too:
// worker threads share one count, configure() in any thread sets the process's settings, and a
// limit that would leave no libuv thread for fs is refused.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const { after, describe, it } = require('node:test')

const offload = require('..')

const FIXTURE = path.join(__dirname, 'fixtures', 'busy-worker.js')
const small = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'offload-limits-')), 'small.txt')
fs.writeFileSync(small, 'tiny')
after(() => fs.rmSync(path.dirname(small), { recursive: true, force: true }))

function startWorker() {
  const worker = new Worker(FIXTURE)
  const ask = async (message) => {
    worker.postMessage(message)
    const [reply] = await once(worker, 'message')
    return reply
  }
  return { worker, ask }
}

/**
 * Ends the workers whatever the test did: their long calls are aborted first (a worker's
 * terminate() also cancels them, but the abort is what the test asks of them).
 */
async function stopAll(pool) {
  for (const w of pool) w.worker.postMessage({ cmd: 'abort' })
  await Promise.all(pool.map((w) => w.worker.terminate()))
}

describe('one in-flight limit for the whole process', { concurrency: 1 }, () => {
  for (const workers of [2, 4]) {
    it(`${workers} workers with three long calls each leave fs.readFile on the main thread fast`, { timeout: 60_000 }, async () => {
      const pool = Array.from({ length: workers }, startWorker)
      try {
        for (const w of pool) await w.ask({ cmd: 'start', calls: 3 })
        // Every worker's calls are either running or queued; together they hold at most
        // maxInFlight libuv threads.
        await new Promise((resolve) => setTimeout(resolve, 100))
        const { maxInFlight } = offload.stats()
        const inFlight = offload.stats().inFlight
        assert.ok(inFlight <= maxInFlight, `${inFlight} calls in flight, limit ${maxInFlight}`)
        assert.equal(inFlight, maxInFlight, 'the workers keep every slot busy')
        // The long calls never end by themselves, so reads that complete while they hold
        // every slot had a libuv thread of their own. (No time is asserted: a busy machine
        // makes any read slow.)
        for (let i = 0; i < 5; i++) assert.equal(await fs.promises.readFile(small, 'utf8'), 'tiny')
        assert.equal(offload.stats().inFlight, maxInFlight, 'the long calls still hold every slot')
        for (const w of pool) {
          const { outcomes } = await w.ask({ cmd: 'abort' })
          assert.deepEqual(outcomes, ['AbortError', 'AbortError', 'AbortError'])
        }
      } finally {
        await stopAll(pool)
      }
      assert.equal(offload.stats().inFlight, 0)
    })
  }

  it('configure() in the main thread is what a worker sees, and the reverse', { timeout: 30_000 }, async () => {
    const before = offload.configure()
    const w = startWorker()
    try {
      offload.configure({ threads: 1, maxInFlight: 1, maxQueue: 50 })
      const { settings } = await w.ask({ cmd: 'settings' })
      assert.equal(settings.threads, 1)
      assert.equal(settings.maxInFlight, 1)
      assert.equal(settings.maxQueue, 50)
      assert.equal(settings.maxAllocation, before.maxAllocation)
    } finally {
      offload.configure(before)
      await w.worker.terminate()
    }
  })

  it('a worker\'s call waits while the main thread holds every slot, then runs', { timeout: 30_000 }, async () => {
    const before = offload.configure()
    const w = startWorker()
    const controller = new AbortController()
    try {
      offload.configure({ maxInFlight: 1 })
      const long = offload.countPrimes(Number.MAX_SAFE_INTEGER, { signal: controller.signal }).catch((e) => e.name)
      const reply = w.ask({ cmd: 'short' })
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(offload.stats().inFlight, 1)
      controller.abort()
      const { queued, sorted } = await reply
      assert.equal(queued, 1, 'the worker\'s call waited for the main thread\'s slot')
      assert.deepEqual(sorted, [1, 2, 3])
      assert.equal(await long, 'AbortError')
    } finally {
      controller.abort() // the long call never ends by itself, even when an assertion failed
      offload.configure(before)
      await w.worker.terminate()
    }
  })

  it('refuses a maxInFlight that leaves no libuv thread free, naming UV_THREADPOOL_SIZE', () => {
    const size = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '4', 10)
    for (const bad of [size, 1000]) {
      assert.throws(
        () => offload.configure({ maxInFlight: bad }),
        (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && e.message.includes(`UV_THREADPOOL_SIZE is ${size}`) && e.message.includes(`Received ${bad}`),
      )
    }
    assert.equal(offload.configure({ maxInFlight: size - 1 }).maxInFlight, size - 1)
    offload.configure({ maxInFlight: Math.max(1, size - 2) })
  })

  it('refuses a thread count far past the cores (1024 on a small machine)', () => {
    const cores = os.availableParallelism()
    assert.throws(
      () => offload.configure({ threads: 4 * cores + 1 }),
      (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && /per core/.test(e.message),
    )
    assert.equal(offload.configure({ threads: 4 * cores }).threads, 4 * cores)
    offload.configure({ threads: cores })
  })

  it('OFFLOAD_THREADS sizes the pool of a fresh process; a value it cannot use is ignored with a warning', () => {
    const { spawnSync } = require('node:child_process')
    const cores = os.availableParallelism()
    const run = (value) => {
      const env = { ...process.env, OFFLOAD_THREADS: value }
      const probe = "const o = require('.'); o.sort(new Float64Array(5000)).then(() => console.log(o.configure().threads))"
      const r = spawnSync(process.execPath, ['-e', probe], { cwd: path.join(__dirname, '..'), env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      return { threads: Number(r.stdout.trim()), warned: r.stderr.includes('OFFLOAD_THREADS_IGNORED') }
    }
    assert.deepEqual(run('1'), { threads: 1, warned: false })
    assert.deepEqual(run(String(2 * cores)), { threads: 2 * cores, warned: false })
    for (const bad of ['0', 'four', '1.5', String(4 * cores + 1)]) assert.deepEqual(run(bad), { threads: cores, warned: true }, bad)
  })

  it('reads UV_THREADPOOL_SIZE as libuv does, in a fresh process', () => {
    const { spawnSync } = require('node:child_process')
    const probe = "const o = require('.'); const s = o.configure(); let max; try { o.configure({ maxInFlight: 7 }); max = 'accepted' } catch (e) { max = e.code } console.log(JSON.stringify([s.maxInFlight, max]))"
    const run = (value) => {
      const env = { ...process.env }
      if (value === undefined) delete env.UV_THREADPOOL_SIZE
      else env.UV_THREADPOOL_SIZE = value
      const r = spawnSync(process.execPath, ['-e', probe], { cwd: path.join(__dirname, '..'), env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    assert.deepEqual(run(undefined), [2, 'ERR_OUT_OF_RANGE'])
    assert.deepEqual(run('8'), [6, 'accepted'])
    assert.deepEqual(run('1'), [1, 'ERR_OUT_OF_RANGE'])
    assert.deepEqual(run('0'), [1, 'ERR_OUT_OF_RANGE']) // libuv: 0 means 1
  })
})
