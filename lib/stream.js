'use strict'

// The one adapter behind every stream offload makes (createCompressStream,
// createDecompressStream, hashStream): chunks gather while a native call works on the previous
// batch; one call at a time per stream (the native state is sequential), each taking every
// chunk gathered so far, so that the output keeps its order and the per-call cost (a thread
// hop) is shared by many chunks. Past `batchBytes` of gathered input the writer is held
// (backpressure); destroy() or the signal cancels the running call, which stops within
// milliseconds.

const { Transform } = require('node:stream')

const { AbortError, invalidType } = require('./errors.js')
const { operation } = require('./scheduler.js')

/** One native step of a stream, as a scheduled call (queue slot, abort, counters). */
const streamStep = operation('streamStep', (step, signal) => ({ signal, start: step }))

function asBuffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function chunkBytes(chunk, encoding) {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding === 'buffer' ? 'utf8' : encoding)
  if (chunk instanceof Uint8Array) return chunk
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw invalidType('chunk', 'of type string or an instance of Buffer, TypedArray or DataView', chunk)
}

/**
 * A Transform whose work is `write(chunks, finish, token)`, a native call resolving to the
 * output of those chunks (a Uint8Array). `batchBytes`: gathered input past which the writer
 * waits. `signal`: the user's AbortSignal.
 */
class NativeTransform extends Transform {
  #write
  #batchBytes
  #pending = []
  #pendingBytes = 0
  #running = false
  #held = null // a _transform callback held for backpressure
  #flushing = null // _flush's callback, once the input has ended
  #controller = new AbortController()
  #userSignal
  #onUserAbort = null

  constructor({ write, batchBytes, signal, ...streamOptions }) {
    super(streamOptions)
    this.#write = write
    this.#batchBytes = batchBytes
    this.#userSignal = signal
    if (signal !== undefined) {
      if (signal.aborted) {
        process.nextTick(() => this.destroy(new AbortError(undefined, { cause: signal.reason })))
      } else {
        this.#onUserAbort = () => this.destroy(new AbortError(undefined, { cause: signal.reason }))
        signal.addEventListener('abort', this.#onUserAbort, { once: true })
      }
    }
  }

  _transform(chunk, encoding, callback) {
    let bytes
    try {
      bytes = chunkBytes(chunk, encoding)
    } catch (error) {
      callback(error)
      return
    }
    if (bytes.byteLength > 0) {
      this.#pending.push(bytes)
      this.#pendingBytes += bytes.byteLength
    }
    if (this.#pendingBytes >= this.#batchBytes) this.#held = callback
    else callback()
    this.#next()
  }

  _flush(callback) {
    this.#flushing = callback
    this.#next()
  }

  _destroy(error, callback) {
    this.#controller.abort(error ?? new AbortError())
    if (this.#onUserAbort !== null) this.#userSignal.removeEventListener('abort', this.#onUserAbort)
    this.#pending = []
    callback(error)
  }

  /** Starts the next native call if none runs and there is work (or the end) to hand over. */
  #next() {
    if (this.#running || this.destroyed) return
    const finish = this.#flushing !== null
    if (!finish && this.#pending.length === 0) return
    const chunks = this.#pending
    this.#pending = []
    this.#pendingBytes = 0
    this.#running = true
    // The gathered input is taken: a held writer may go on.
    const held = this.#held
    this.#held = null
    streamStep((token) => this.#write(chunks, finish, token), this.#controller.signal).then(
      (output) => {
        this.#running = false
        if (this.destroyed) return
        if (output.byteLength > 0) this.push(asBuffer(output))
        if (finish) {
          const done = this.#flushing
          this.#flushing = null
          done()
          return
        }
        this.#next()
      },
      (error) => {
        this.#running = false
        if (!this.destroyed) this.destroy(error)
      },
    )
    if (held !== null) held()
  }
}

module.exports = { NativeTransform, asBuffer, chunkBytes, streamStep }
