'use strict'

// Long strings (over a million UTF-16 units) given to hash, hashMany, compress, decompress and
// parseCsv, or yielded to hashStream, are encoded to UTF-8 a slice at a time on the JS thread,
// the event loop running between slices. The bytes are checked against Buffer.from (surrogate
// pairs across piece boundaries, lone surrogates), the results against node's crypto and zlib,
// and the slicing by a clock that moves 5 ms per reading (so every piece ends a slice,
// whatever the machine).

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const zlib = require('node:zlib')
const { describe: suite, it } = require('node:test')
const fc = require('fast-check')

const offload = require('..')
const { encodeText, encodeTextInParts } = require('../lib/validate.js')

const LONG = (1 << 20) + 1

/** Runs `fn` with performance.now() advancing 5 ms per call: every slice holds one piece. */
async function withFastClock(fn) {
  const real = performance.now
  let t = real.call(performance)
  performance.now = () => (t += 5)
  try {
    return await fn()
  } finally {
    delete performance.now
    assert.equal(performance.now, real)
  }
}

/** Counts turns of the event loop (setImmediate callbacks) until stopped. */
function turnCounter() {
  let turns = 0
  let running = true
  const tick = () => {
    turns++
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  return {
    get turns() {
      return turns
    },
    stop() {
      running = false
    },
  }
}

/**
 * Runs `call(signal)` under the fast clock, aborting with reason Error('stop') at the clock's
 * third reading; checks the AbortError and returns how many readings were taken.
 */
async function rejectsOnAbortAtThirdReading(call) {
  const controller = new AbortController()
  let readings = 0
  await withFastClock(async () => {
    const fast = performance.now
    performance.now = () => {
      if (++readings === 3) controller.abort(new Error('stop'))
      return fast()
    }
    await assert.rejects(call(controller.signal), (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'stop')
  })
  return readings
}

function delta(before, after) {
  return {
    completed: after.completed - before.completed,
    failed: after.failed - before.failed,
    cancelled: after.cancelled - before.cancelled,
    running: after.running,
  }
}

suite('long strings are encoded a slice at a time', () => {
  it('property: the bytes are those of Buffer.from, for any pieces (surrogate pairs across boundaries, lone surrogates)', async () => {
    const unit = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('\ud83d\ude00', '\ud83d', '\ude00', '\u00e9', '\u20ac', 'a', '\n', '\u0000'),
    )
    await fc.assert(fc.asyncProperty(fc.array(unit, { maxLength: 60 }), fc.integer({ min: 2, max: 9 }), async (parts, piece) => {
      const text = parts.join('')
      const got = await encodeText(text, undefined, piece)
      assert.ok(Buffer.isBuffer(got))
      assert.deepEqual(got, Buffer.from(text, 'utf8'))
    }), { numRuns: 500 })
    // A pair split exactly at the piece size, with a slice per piece.
    const text = 'a\ud83d\ude00b'.repeat(1000)
    assert.deepEqual(await withFastClock(() => encodeText(text, undefined, 2)), Buffer.from(text))
    assert.equal((await encodeText('', undefined, 4)).length, 0)
  })

  it('property: parts in one pass add up to the bytes of Buffer.from, and a part is not written to until the next is consumed', async () => {
    const unit = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('\ud83d\ude00', '\ud83d', '\ude00', '\u00e9', '\u20ac', 'a', '\n'),
    )
    const partsOf = async (text, piece, partBytes) => {
      const copies = []
      let last = null
      await encodeTextInParts(text, undefined, async (part) => {
        // The part before may still be read by its consumer until now: unchanged.
        if (last !== null) assert.deepEqual(last, copies[copies.length - 1])
        assert.ok(part.length > 0 && part.length <= Math.max(partBytes, 3 * piece))
        last = part
        copies.push(Buffer.from(part))
        await new Promise(setImmediate)
      }, piece, partBytes)
      return copies
    }
    await fc.assert(fc.asyncProperty(fc.array(unit, { maxLength: 80 }), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 40 }), async (units, piece, partBytes) => {
      const text = units.join('')
      const parts = await partsOf(text, piece, partBytes)
      assert.deepEqual(Buffer.concat(parts), Buffer.from(text, 'utf8'))
    }), { numRuns: 500 })
    // Many parts through two buffers, each piece a slice of its own.
    const text = 'x\u00e9\ud83d\ude00'.repeat(500)
    const parts = await withFastClock(() => partsOf(text, 4, 32))
    assert.ok(parts.length > 50)
    assert.deepEqual(Buffer.concat(parts), Buffer.from(text))
  })

  it('hash, hashMany, compress, decompress and parseCsv of long strings match the references, the loop turning meanwhile', async () => {
    const row = 'id-\u00e9\u20ac\ud83d\ude00,42,3.5,plain text\n'
    const text = row.repeat(Math.ceil(LONG / row.length))
    assert.ok(text.length > LONG)
    const counter = turnCounter()
    const before = offload.stats()
    try {
      await withFastClock(async () => {
        const start = counter.turns
        assert.equal(await offload.hash(text, { algorithm: 'sha256' }), crypto.createHash('sha256').update(text).digest('hex'))
        // One pass over pieces of 2^18 units (each part hashed while the next is encoded),
        // each piece its own slice: the loop turned between any two.
        const pieces = Math.ceil(text.length / 2 ** 18)
        assert.ok(counter.turns - start >= pieces - 1, `${counter.turns - start} turns for ${pieces} pieces`)
        // With onProgress, encoded in two passes first, then hashed by one call that counts every byte.
        const reports = []
        const hex = await offload.hash(text, { algorithm: 'sha256', onProgress: (p) => reports.push(p) })
        assert.equal(hex, crypto.createHash('sha256').update(text).digest('hex'))
        assert.deepEqual(reports.at(-1), { done: Buffer.byteLength(text), total: Buffer.byteLength(text) })
      })
      const many = await offload.hashMany([text, 'short', Buffer.from('bytes'), text], { algorithm: 'sha512' })
      assert.deepEqual(many, [text, 'short', 'bytes', text].map((x) => crypto.createHash('sha512').update(x).digest('hex')))
      const gz = await offload.compress(text, { format: 'gzip' })
      assert.equal(zlib.gunzipSync(gz).toString('utf8'), text)
      // A long string given to decompress is its UTF-8 bytes, refused as a short one is.
      const codeOf = (e) => e.code
      const short = await offload.decompress('x'.repeat(100), { format: 'gzip' }).catch(codeOf)
      assert.equal(await offload.decompress('x'.repeat(LONG), { format: 'gzip' }).catch(codeOf), short)
      assert.equal(typeof short, 'string')
      const csv = 'name,n,x,note\n' + text
      const fromString = await offload.parseCsv(csv, { columns: { n: 'int32', x: 'float64', name: 'category' } })
      const fromBytes = await offload.parseCsv(Buffer.from(csv), { columns: { n: 'int32', x: 'float64', name: 'category' } })
      assert.equal(fromString.rows, text.length / row.length)
      assert.deepEqual(fromString.columns.name.values, ['id-\u00e9\u20ac\ud83d\ude00'])
      assert.deepEqual(fromString, fromBytes)
    } finally {
      counter.stop()
    }
    assert.deepEqual(delta(before, offload.stats()), { completed: 6, failed: 2, cancelled: 0, running: 0 })
  })

  it('an abort while a long string is encoded rejects with its reason, counted as cancelled, before any native work', async () => {
    const text = 'x'.repeat(4 * LONG)
    const before = offload.stats()
    const readings = await rejectsOnAbortAtThirdReading((signal) => offload.compress(text, { format: 'zstd', signal }))
    // Stopped at the first turn after the abort: a few readings, not one per piece (32).
    assert.ok(readings < 8, `${readings} readings`)
    assert.deepEqual(delta(before, offload.stats()), { completed: 0, failed: 0, cancelled: 1, running: 0 })
    // Already aborted: rejected at once.
    await assert.rejects(offload.hash(text, { signal: AbortSignal.abort(new Error('early')) }), (e) => e.cause.message === 'early')
  })

  it('hash of a string of many parts matches crypto and the hash of its bytes for every algorithm; an abort mid-way stops it', async () => {
    // ~14 MB of UTF-8: four parts of 4 MiB through two buffers.
    const row = 'part-\u00e9\u20ac\ud83d\ude00,plain,'
    const text = row.repeat(Math.ceil((10 << 20) / row.length))
    const bytes = Buffer.from(text)
    assert.ok(bytes.length > 3 * (4 << 20))
    for (const algorithm of ['blake3', 'sha256', 'sha512', 'xxh3-64', 'xxh3-128']) {
      const expected = await offload.hash(bytes, { algorithm })
      assert.equal(await offload.hash(text, { algorithm }), expected, algorithm)
      if (algorithm.startsWith('sha')) assert.equal(expected, crypto.createHash(algorithm).update(text).digest('hex'))
    }
    const before = offload.stats()
    const readings = await rejectsOnAbortAtThirdReading((signal) => offload.hash(text, { algorithm: 'sha256', signal }))
    assert.ok(readings < 8, `${readings} readings`)
    assert.deepEqual(delta(before, offload.stats()), { completed: 0, failed: 0, cancelled: 1, running: 0 })
  })

  it('hashStream encodes a long string chunk a slice at a time too, and an abort meanwhile rejects with its reason', async () => {
    const row = 'stream-\u00e9\ud83d\ude00,'
    const text = row.repeat(Math.ceil(LONG / row.length))
    async function* chunks() {
      yield 'head,'
      yield text
      yield Buffer.from('middle,')
      yield text
      yield 'tail'
    }
    const expected = crypto.createHash('sha256').update('head,').update(text).update('middle,').update(text).update('tail').digest('hex')
    const counter = turnCounter()
    const before = offload.stats()
    try {
      await withFastClock(async () => {
        const start = counter.turns
        assert.equal(await offload.hashStream(chunks(), { algorithm: 'sha256' }), expected)
        const pieces = Math.ceil(text.length / 2 ** 18)
        assert.ok(counter.turns - start >= 2 * (pieces - 1), `${counter.turns - start} turns for ${pieces} pieces, twice`)
      })
    } finally {
      counter.stop()
    }
    const readings = await rejectsOnAbortAtThirdReading((signal) => offload.hashStream(chunks(), { signal }))
    assert.ok(readings < 8, `${readings} readings`)
    assert.deepEqual(delta(before, offload.stats()), { completed: 1, failed: 0, cancelled: 1, running: 0 })
  })

  it('strings up to the limit are encoded at once, as before', async () => {
    const text = 'y'.repeat(LONG - 1)
    let readings = 0
    const real = performance.now
    performance.now = () => {
      readings++
      return real.call(performance)
    }
    try {
      assert.equal(await offload.hash(text, { algorithm: 'sha512' }), crypto.createHash('sha512').update(text).digest('hex'))
    } finally {
      delete performance.now
    }
    assert.equal(readings, 0)
  })
})
