'use strict'

// Adds jobs to the queue and prints each result as it completes.
//
//   REDIS_URL=redis://127.0.0.1:6379 node examples/queue/producer.js
//
// Run one or more workers (examples/queue/worker.js) against the same Redis.

const { Queue, QueueEvents } = require('bullmq')
const { connection } = require('./jobs.js')

const QUEUE = process.env.QUEUE || 'offload-jobs'

async function main() {
  const queue = new Queue(QUEUE, { connection: connection() })
  const events = new QueueEvents(QUEUE, { connection: connection() })
  await events.waitUntilReady()
  const jobs = await queue.addBulk([
    { name: 'primes', data: { op: 'countPrimes', n: 1e9 } },
    { name: 'stats', data: { op: 'describe', seed: 1, length: 5e6 } },
    { name: 'digest', data: { op: 'hash', text: 'hello, queue', algorithm: 'sha256' } },
  ].map((job) => ({ ...job, opts: { attempts: 3, removeOnComplete: 1000 } })))
  events.on('progress', ({ jobId, data }) => console.log(`job ${jobId}: ${data.done} / ${data.total}`))
  for (const job of jobs) {
    const result = await job.waitUntilFinished(events)
    console.log(`job ${job.id} (${job.name}):`, result)
  }
  await events.close()
  await queue.close()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
