'use strict'

// A BullMQ worker whose job processors are offload calls.
//
//   REDIS_URL=redis://127.0.0.1:6379 OFFLOAD_THREADS=2 node examples/queue/worker.js
//
// - Progress: each call's onProgress goes to job.updateProgress({ done, total }).
// - SIGTERM: every running call is aborted through its AbortSignal (its job fails with an
//   AbortError and, having attempts left, is retried by another worker), the worker closes
//   and the process exits 0, within milliseconds rather than at the end of a long job.
// - Sizing: OFFLOAD_THREADS threads per process (default every core); CONCURRENCY jobs at once
//   (default offload's maxInFlight, 2: one job computes while the next one's data arrives from
//   Redis; more only queue inside offload). For throughput, run one worker process per core
//   with OFFLOAD_THREADS=1: each job's JavaScript (its data, Redis) then runs in parallel too
//   (`npm run bench:queue`: 1.1x one process with every core). One process with every core
//   finishes each large job soonest.
//
// Environment: QUEUE (default "offload-jobs"), CONCURRENCY, LOCK_MS (BullMQ lockDuration;
// stalled jobs are looked for every LOCK_MS / 2). Logs one JSON line per event on stdout.

const { Worker } = require('bullmq')

const offload = require('../..')
const { connection, run } = require('./jobs.js')

const QUEUE = process.env.QUEUE || 'offload-jobs'
const CONCURRENCY = Number(process.env.CONCURRENCY) || offload.configure().maxInFlight
const LOCK_MS = Number(process.env.LOCK_MS) || 30_000

const log = (event) => console.log(JSON.stringify({ pid: process.pid, ...event }))
const running = new Map() // AbortController -> the offload call's Promise, for calls in progress

let shuttingDown = null // the Error that aborts calls, once SIGTERM has arrived

async function processJob(job) {
  const controller = new AbortController()
  log({ event: 'active', id: job.id })
  // A job that became active while shutting down fails at once, with attempts left for
  // another worker.
  if (shuttingDown) controller.abort(shuttingDown)
  const onProgress = (progress) => {
    job.updateProgress(progress).catch(() => {}) // best effort: Redis may be going away
  }
  const call = run(job.data, { signal: controller.signal, onProgress, progressInterval: 200 })
  running.set(controller, call)
  try {
    const result = await call
    log({ event: 'completed', id: job.id })
    return result
  } finally {
    running.delete(controller)
  }
}

const worker = new Worker(QUEUE, processJob, {
  connection: connection(),
  concurrency: CONCURRENCY,
  lockDuration: LOCK_MS,
  stalledInterval: Math.max(500, LOCK_MS / 2),
})
worker.on('error', (error) => log({ event: 'error', message: error.message }))
worker.on('ready', () => log({ event: 'ready', threads: offload.configure().threads, concurrency: CONCURRENCY }))

process.once('SIGTERM', async () => {
  const start = performance.now()
  const calls = [...running]
  shuttingDown = new Error('worker shutting down (SIGTERM)')
  // Close first: a failed job frees its slot, and a worker that is not closing fetches the
  // next job at once, often the very job just aborted (attempts left, no backoff), which would
  // then run to its end here instead of on another worker. close() marks the worker closing
  // synchronously and resolves when the processors have settled.
  const closed = worker.close()
  // Then abort, so the running kernels stop now.
  for (const [controller] of calls) controller.abort(shuttingDown)
  const outcomes = await Promise.allSettled(calls.map(([, call]) => call))
  const abortedMs = performance.now() - start
  // The kernels poll their flag every millisecond or so; the calls' slots are free when they
  // have stopped.
  while (offload.stats().running > 0) await new Promise((resolve) => setTimeout(resolve, 1))
  log({
    event: 'aborted',
    calls: calls.length,
    abortErrors: outcomes.filter((o) => o.status === 'rejected' && o.reason?.name === 'AbortError').length,
    ms: abortedMs,
    stoppedMs: performance.now() - start,
  })
  await closed
  log({ event: 'closed', ms: performance.now() - start })
  process.exit(0)
})
