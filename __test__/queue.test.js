'use strict'

// examples/queue: BullMQ workers running offload calls, against a real Redis started here.
// Every job completes exactly once with the right result across two worker processes; a
// worker killed mid-job loses nothing (BullMQ's stalled-job recovery hands the job on); a
// worker sent SIGTERM aborts its running call within 100 ms, exits 0, and its job is retried.

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const path = require('node:path')
const readline = require('node:readline')
const { after, before, describe, it } = require('node:test')

const { startRedis, unavailable } = require('./fixtures/redis.js')

const skip = unavailable()
const WORKER = path.join(__dirname, '..', 'examples', 'queue', 'worker.js')
const { numbers } = require('../examples/queue/jobs.js')

/** Independent answers: a plain sieve, plain loops over the same numbers, node:crypto. */
function primesUpTo(n) {
  const composite = new Uint8Array(n + 1)
  let count = 0
  for (let i = 2; i <= n; i++) {
    if (composite[i]) continue
    count++
    for (let j = i * i; j <= n; j += i) composite[j] = 1
  }
  return count
}
function expected(data) {
  if (data.op === 'countPrimes') return primesUpTo(data.n)
  if (data.op === 'hash') return crypto.createHash(data.algorithm).update(data.text).digest('hex')
  const v = numbers(data.seed, data.length)
  let sum = 0
  let min = Infinity
  let max = -Infinity
  for (const x of v) {
    sum += x
    min = Math.min(min, x)
    max = Math.max(max, x)
  }
  return { count: v.length, mean: sum / v.length, min, max }
}
function sameResult(got, want) {
  if (typeof want !== 'object') return got === want
  return got.count === want.count && got.min === want.min && got.max === want.max && Math.abs(got.mean - want.mean) < 1e-12
}

/** A worker process; `events` collects its JSON log lines; `waitFor(pred)` awaits one. */
function startWorker(env) {
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const events = []
  const waiters = []
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let event
    try {
      event = JSON.parse(line)
    } catch {
      return
    }
    events.push(event)
    for (const w of [...waiters]) {
      if (w.pred(event)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(event)
      }
    }
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const waitFor = (pred, ms = 30_000) => {
    const seen = events.find(pred)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; last events: ${JSON.stringify(events.slice(-5))}`)), ms)
      waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e) } })
    })
  }
  return { child, events, exited, waitFor, pid: child.pid }
}

describe('examples/queue (BullMQ on Redis)', { skip }, () => {
  let redis
  let Queue
  let QueueEvents
  let connection
  before(async () => {
    redis = await startRedis()
    ;({ Queue, QueueEvents } = require('bullmq'))
    const url = new URL(redis.url)
    connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null }
  })
  after(() => redis?.stop())

  async function withQueue(name, body) {
    const queue = new Queue(name, { connection })
    const events = new QueueEvents(name, { connection })
    // One listener per job awaited at once (waitUntilFinished): not a leak.
    queue.setMaxListeners(300)
    events.setMaxListeners(300)
    await events.waitUntilReady()
    try {
      return await body(queue, events)
    } finally {
      await events.close()
      await queue.obliterate({ force: true }).catch(() => {})
      await queue.close()
    }
  }

  it('200 jobs across two worker processes: each completed exactly once, with the right result', async () => {
    const name = `q-many-${process.pid}`
    const workers = [1, 2].map(() => startWorker({ REDIS_URL: redis.url, QUEUE: name, OFFLOAD_THREADS: '1' }))
    try {
      await Promise.all(workers.map((w) => w.waitFor((e) => e.event === 'ready')))
      await withQueue(name, async (queue, events) => {
        const data = Array.from({ length: 200 }, (_, i) => [
          { op: 'countPrimes', n: 1000 + 997 * i },
          { op: 'describe', seed: i + 1, length: 1000 + 53 * i },
          { op: 'hash', text: `job ${i}`, algorithm: i % 2 ? 'sha256' : 'sha512' },
        ][i % 3])
        const jobs = await queue.addBulk(data.map((d, i) => ({ name: `job-${i}`, data: d, opts: { attempts: 3 } })))
        const results = await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 60_000)))
        for (const [i, result] of results.entries()) {
          assert.ok(sameResult(result, expected(data[i])), `job ${i}: ${JSON.stringify(result)}`)
        }
      })
      // Completed once each, by the two processes together.
      const completed = workers.flatMap((w) => w.events.filter((e) => e.event === 'completed').map((e) => e.id))
      assert.equal(completed.length, 200)
      assert.equal(new Set(completed).size, 200)
      for (const w of workers) assert.ok(w.events.some((e) => e.event === 'completed'), `worker ${w.pid} did some of the work`)
    } finally {
      for (const w of workers) w.child.kill('SIGTERM')
      await Promise.all(workers.map((w) => w.exited))
    }
  })

  it('a worker killed with SIGKILL mid-job: the job goes to the other worker and completes', async () => {
    const name = `q-kill-${process.pid}`
    const env = { REDIS_URL: redis.url, QUEUE: name, OFFLOAD_THREADS: '1', LOCK_MS: '1000', CONCURRENCY: '1' }
    const first = startWorker(env)
    await first.waitFor((e) => e.event === 'ready')
    let second
    try {
      await withQueue(name, async (queue, events) => {
        const data = { op: 'countPrimes', n: 3e9 }
        const job = await queue.add('long', data, { attempts: 3 })
        await first.waitFor((e) => e.event === 'active' && e.id === job.id)
        first.child.kill('SIGKILL')
        assert.equal((await first.exited).signal, 'SIGKILL')
        second = startWorker(env)
        const result = await job.waitUntilFinished(events, 60_000)
        assert.equal(result, 144449537) // pi(3e9)
        await second.waitFor((e) => e.event === 'completed' && e.id === job.id)
      })
    } finally {
      second?.child.kill('SIGTERM')
      await second?.exited
    }
  })

  it('SIGTERM aborts the running call within 100 ms, exits 0, and the job is retried', async (t) => {
    const name = `q-term-${process.pid}`
    const env = { REDIS_URL: redis.url, QUEUE: name, OFFLOAD_THREADS: '1', CONCURRENCY: '1' }
    const first = startWorker(env)
    await first.waitFor((e) => e.event === 'ready')
    let second
    try {
      await withQueue(name, async (queue, events) => {
        const job = await queue.add('long', { op: 'countPrimes', n: 1e10 }, { attempts: 3 })
        await first.waitFor((e) => e.event === 'active' && e.id === job.id)
        await new Promise((resolve) => setTimeout(resolve, 200)) // well into the kernel
        first.child.kill('SIGTERM')
        const aborted = await first.waitFor((e) => e.event === 'aborted')
        assert.equal(aborted.calls, 1)
        assert.equal(aborted.abortErrors, 1, 'the running call rejected with an AbortError')
        assert.ok(aborted.ms < 100, `running call aborted ${aborted.ms.toFixed(1)} ms after SIGTERM`)
        // The kernel itself stopped too, and the closing worker did not take the job again
        // (a worker that is not yet closing fetches the next job, often this one, as soon as a
        // job fails: its retry then ran to its end here, about 2 s).
        assert.ok(aborted.stoppedMs < 1000, `kernel stopped ${aborted.stoppedMs.toFixed(1)} ms after SIGTERM`)
        t.diagnostic(`kernel stopped ${aborted.stoppedMs.toFixed(1)} ms after SIGTERM`)
        assert.deepEqual(await first.exited, { code: 0, signal: null })
        assert.equal(first.events.filter((e) => e.event === 'active' && e.id === job.id).length, 1, 'the first worker started the job once')
        second = startWorker(env)
        const result = await job.waitUntilFinished(events, 60_000)
        assert.equal(result, 455052511) // pi(1e10)
        const done = await queue.getJob(job.id)
        assert.equal(done.attemptsMade, 2, 'failed once (aborted), then completed')
      })
    } finally {
      second?.child.kill('SIGTERM')
      await second?.exited
    }
  })
})
