'use strict'

// The one adapter behind every stream offload makes (createCompressStream,
// createDecompressStream; hashStream feeds its native steps the same way). Its rules:
//
// - A chunk is native code's until its write callback. Chunks are read in place, from
//   other threads, so a chunk's callback comes only once no native step reads it any more,
//   and its ArrayBuffer is marked untransferable meanwhile (as every other operation's input
//   is). A writer that refills one buffer after each callback is therefore safe, and the
//   bytes are never copied on the main thread. Batching comes from the writable side's buffer
//   (`writableHighWaterMark`, a few MiB by default): chunks written while a step runs are
//   handed to the next step together (`_writev`).
// - Output is bounded by the consumer. One step at a time per stream (the native state is
//   sequential); a decompressing step stops after `outputStep` bytes, and no step starts
//   while the readable side is full (`push()` said false) until the consumer reads again. A
//   stalled consumer therefore holds the writer (its callback waits) instead of growing memory.
// - destroy() or the signal cancels the running step, which stops within milliseconds; the
//   stream counts as one call in stats().

const { Transform } = require('node:stream')

const { AbortError, invalidType } = require('./errors.js')
const { countArgumentError, longCall, step } = require('./scheduler.js')
const { heldView } = require('./validate.js')

function asBuffer(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function chunkBytes(chunk, encoding) {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding === 'buffer' ? 'utf8' : encoding)
  if (chunk instanceof Uint8Array) return chunk
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw invalidType('chunk', 'of type string or an instance of Buffer, TypedArray or DataView', chunk)
}

/** A chunk's bytes, readied to be read in place by native code until its callback. */
function heldChunk(chunk, encoding) {
  const bytes = chunkBytes(chunk, encoding)
  if (typeof chunk !== 'string') heldView(bytes, 'chunk')
  return bytes
}

/**
 * Runs `build()` (a stream constructor's checks), counting a thrown argument error in
 * stats() as a failed call, as every other operation does.
 */
function constructing(build) {
  try {
    return build()
  } catch (error) {
    countArgumentError()
    throw error
  }
}

/**
 * A Transform whose work is `write(chunks, finish, budget, token)`, a native step resolving to
 * `{ output, consumed, more }`: the output of the chunks (read in place), how many of their
 * bytes it took, and whether more output waits. `outputStep`: the budget of one step.
 * `signal`: the user's AbortSignal.
 */
class NativeTransform extends Transform {
  #write
  #outputStep
  /** The chunks handed over (their callback not yet called), and the callback. */
  #input = []
  #inputDone = null
  #running = false
  /** The last step stopped at its budget: more output waits for the same input. */
  #more = false
  /** push() said false: no step starts until _read. */
  #full = false
  #flushing = null // _flush's callback, once the input has ended
  #controller = new AbortController()
  #userSignal
  #onUserAbort = null
  #settle = longCall()

  constructor({ write, outputStep = Infinity, signal, ...streamOptions }) {
    super(streamOptions)
    this.#write = write
    this.#outputStep = outputStep
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

  _write(chunk, encoding, callback) {
    this.#accept([{ chunk, encoding }], callback)
  }

  _writev(entries, callback) {
    this.#accept(entries, callback)
  }

  #accept(entries, callback) {
    const chunks = []
    try {
      for (const { chunk, encoding } of entries) {
        const bytes = heldChunk(chunk, encoding)
        if (bytes.byteLength > 0) chunks.push(bytes)
      }
    } catch (error) {
      callback(error)
      return
    }
    if (chunks.length === 0) {
      callback()
      return
    }
    this.#input = chunks
    this.#inputDone = callback
    this.#next()
  }

  _read() {
    this.#full = false
    this.#next()
  }

  _flush(callback) {
    this.#flushing = callback
    this.#next()
  }

  _destroy(error, callback) {
    this.#controller.abort(error ?? new AbortError())
    if (this.#onUserAbort !== null) this.#userSignal.removeEventListener('abort', this.#onUserAbort)
    this.#onUserAbort = null
    // A running step still reads its chunks: their callback waits for it to stop.
    if (!this.#running) this.#release()
    this.#settleDestroyed(error)
    callback(error)
  }

  #settleDestroyed(error) {
    if (this.#running) return // settled when the step stops
    const aborted = error === undefined || error === null || error.name === 'AbortError'
    this.#settle(aborted ? 'cancelled' : 'failed')
  }

  /** Native code reads none of the chunks now: the writer may reuse them. */
  #release() {
    this.#input = []
    const done = this.#inputDone
    this.#inputDone = null
    if (done !== null) done()
  }

  /** Drops the first `consumed` bytes of the input; calls back once all of it is taken. */
  #take(consumed) {
    let left = consumed
    const rest = []
    for (const chunk of this.#input) {
      if (left >= chunk.byteLength) left -= chunk.byteLength
      else {
        rest.push(left > 0 ? chunk.subarray(left) : chunk)
        left = 0
      }
    }
    this.#input = rest
    if (rest.length === 0) this.#release()
  }

  /** Starts the next step if none runs, the consumer has room, and there is work to do. */
  #next() {
    if (this.#running || this.destroyed || this.#full) return
    const finish = this.#flushing !== null
    if (this.#input.length === 0 && !this.#more && !finish) return
    const chunks = this.#input
    this.#running = true
    step((token) => this.#write(chunks, finish, this.#outputStep, token), this.#controller.signal).then(
      ({ output, consumed, more }) => {
        this.#running = false
        if (this.destroyed) {
          // The step has stopped: no chunk is read any more, taken or not.
          this.#release()
          this.#settleDestroyed(this.errored)
          return
        }
        this.#take(consumed)
        this.#more = more
        if (output.byteLength > 0 && !this.push(asBuffer(output))) this.#full = true
        if (finish && !more) {
          const done = this.#flushing
          this.#flushing = null
          this.#settle('completed')
          done()
          return
        }
        this.#next()
      },
      (error) => {
        this.#running = false
        // The step has stopped: its chunks are free again.
        this.#release()
        if (!this.destroyed) this.destroy(error)
        else this.#settleDestroyed(this.errored ?? error)
      },
    )
  }
}

module.exports = { NativeTransform, asBuffer, chunkBytes, constructing, heldChunk }
