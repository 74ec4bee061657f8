'use strict'

// `npm run bench:queue`: BullMQ jobs per second through examples/queue/worker.js on a real
// Redis (started here on 127.0.0.1, or REDIS_URL), for three layouts of the same machine:
// one process using every core, one process per core with one thread each, and one process
// per core each using every core (oversubscribed). The same jobs in each: countPrimes of
// numbers around 5e8 (tens of milliseconds each) and describe of 2M generated numbers.
//
// BENCH_JOBS (default 120) jobs per layout.

const { spawn } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { Queue, QueueEvents } = require('bullmq')

const { startRedis } = require('../__test__/fixtures/redis.js')

const JOBS = Number(process.env.BENCH_JOBS) || 120
const WORKER = path.join(__dirname, '..', 'examples', 'queue', 'worker.js')
const cores = os.availableParallelism()

function startWorker(env) {
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"event":"ready"')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
  })
  return { child, ready }
}

async function layout(redisUrl, name, processes, threads, connection) {
  const queueName = `bench-${process.pid}-${name.replace(/\W+/g, '-')}`
  const workers = Array.from({ length: processes }, () =>
    startWorker({ REDIS_URL: redisUrl, QUEUE: queueName, OFFLOAD_THREADS: String(threads) }))
  await Promise.all(workers.map((w) => w.ready))
  const queue = new Queue(queueName, { connection })
  const events = new QueueEvents(queueName, { connection })
  // One listener per job awaited at once (waitUntilFinished): not a leak.
  queue.setMaxListeners(JOBS + 10)
  events.setMaxListeners(JOBS + 10)
  await events.waitUntilReady()
  const data = Array.from({ length: JOBS }, (_, i) => (i % 2
    ? { op: 'countPrimes', n: 4e8 + 1e6 * i }
    : { op: 'describe', seed: i, length: 2e6 }))
  const start = performance.now()
  const jobs = await queue.addBulk(data.map((d, i) => ({ name: `j${i}`, data: d })))
  await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 600_000)))
  const seconds = (performance.now() - start) / 1000
  for (const w of workers) w.child.kill('SIGTERM')
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.child.exitCode !== null ? resolve() : w.child.once('exit', resolve)))))
  await events.close()
  await queue.obliterate({ force: true })
  await queue.close()
  return { name, processes, threads, seconds, rate: JOBS / seconds }
}

async function main() {
  const redis = await startRedis()
  try {
    const url = new URL(redis.url)
    const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null }
    console.log(`${os.cpus()[0].model}, ${cores} cores, Node ${process.version}; ${JOBS} jobs per layout (half countPrimes ~4e8, half describe of 2M numbers)\n`)
    const rows = []
    for (const [name, processes, threads] of [
      ['1 process, every core', 1, cores],
      [`${cores} processes, 1 thread each`, cores, 1],
      [`${cores} processes, every core each (oversubscribed)`, cores, cores],
    ]) {
      rows.push(await layout(redis.url, name, processes, threads, connection))
    }
    const base = rows[0].rate
    console.log('| layout | processes x threads | jobs/s | vs one process |')
    console.log('|---|---:|---:|---:|')
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.processes} x ${r.threads} | ${r.rate.toFixed(1)} | ${(r.rate / base).toFixed(2)}x |`)
    }
  } finally {
    await redis.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
