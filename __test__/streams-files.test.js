'use strict'

// Streams and files that never corrupt, crash, leak or truncate: chunks are native code's
// until their callback, output follows the consumer, gzip is one member that every client
// reads, files behave as `fs` files do, and a source that blocks never holds a slot.

const assert = require('node:assert/strict')
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { after, before, describe: suite, it } = require('node:test')
const zlib = require('node:zlib')

const offload = require('..')
const { logLines } = require('./fixtures/logs.js')

const MiB = 1 << 20
const ROOT = path.join(__dirname, '..')
const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms))

/** Runs `code` in a child Node (with `args`), returns { status, signal, stdout, stderr }. */
function child(code, args = [], timeout = 120_000) {
  const result = spawnSync(process.execPath, [...args, '-e', code], { cwd: ROOT, encoding: 'utf8', timeout })
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-streams-files-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/**
 * Memory the kernel can hand out: MemAvailable counts the page cache it can drop (after the
 * builds, MemFree alone is far below it).
 */
function availableMemory() {
  try {
    const line = fs.readFileSync('/proc/meminfo', 'latin1').match(/^MemAvailable:\s+(\d+) kB/m)
    if (line) return Number(line[1]) * 1024
  } catch {}
  return os.freemem()
}

/** Whether /dev/shm (RAM) can take `bytes` with half as much memory again to spare. */
function roomInRam(bytes) {
  try {
    const { bavail, bsize } = fs.statfsSync('/dev/shm')
    return bavail * bsize > bytes && availableMemory() > 1.5 * bytes
  } catch {
    return false
  }
}

/** Files in `folder` that look like offload's temporary files. */
const temporaries = (folder = dir) => fs.readdirSync(folder).filter((n) => n.startsWith('.offload-'))

suite('stream inputs are native code\'s until their callback', () => {
  it('a writer that refills one buffer after each callback gets the right gzip and zstd', async () => {
    for (const format of ['gzip', 'zstd', 'brotli']) {
      const stream = offload.createCompressStream({ format, level: format === 'brotli' ? 4 : undefined })
      const out = []
      stream.on('data', (c) => out.push(c))
      const ended = new Promise((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject) })
      const buf = Buffer.alloc(MiB)
      const expected = []
      for (let i = 0; i < 8; i++) {
        buf.fill(97 + i)
        expected.push(Buffer.from(buf))
        await new Promise((resolve) => stream.write(buf, resolve))
      }
      stream.end()
      await ended
      const back = await offload.decompress(Buffer.concat(out), { format })
      assert.ok(back.equals(Buffer.concat(expected)), `${format}: the output holds what was written`)
      const independent = format === 'gzip' ? zlib.gunzipSync(Buffer.concat(out)) : format === 'brotli' ? zlib.brotliDecompressSync(Buffer.concat(out)) : back
      assert.ok(independent.equals(Buffer.concat(expected)), format)
    }
  })

  it('a decompressing stream fed through one reused buffer decodes right', async () => {
    const data = logLines(6 * MiB, 3)
    const packed = zlib.gzipSync(data)
    const stream = offload.createDecompressStream()
    const out = []
    stream.on('data', (c) => out.push(c))
    const ended = new Promise((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject) })
    const buf = Buffer.alloc(64 * 1024)
    for (let at = 0; at < packed.length; at += buf.length) {
      const n = packed.copy(buf, 0, at, at + buf.length)
      await new Promise((resolve) => stream.write(n === buf.length ? buf : buf.subarray(0, n), resolve))
      buf.fill(0) // what a pool would do with a buffer it got back
    }
    stream.end()
    await ended
    assert.ok(Buffer.concat(out).equals(data))
  })

  it('hashStream gets the right digest from a generator that refills one buffer per yield', async () => {
    for (const size of [64 * 1024, 3 * MiB]) {
      const buf = Buffer.alloc(size)
      const reference = crypto.createHash('sha256')
      async function* refilled() {
        for (let i = 0; i < 12; i++) {
          buf.fill(i * 7 + 1)
          reference.update(buf)
          yield buf
        }
      }
      const digest = await offload.hashStream(refilled(), { algorithm: 'sha256' })
      assert.equal(digest, reference.digest('hex'), `chunks of ${size} bytes`)
    }
  })

  it('hashStream batches many small chunks through two buffers taking turns, each untouched while it is hashed', async () => {
    // 40 MiB of 64 KiB chunks, every one different: batches of up to 8 MiB, so each batch
    // buffer is filled again several times; refilling one still being hashed changes the digest.
    const chunks = Array.from({ length: 640 }, (_, i) => crypto.createHash('sha512').update(String(i)).digest().toString('hex').repeat(512).slice(0, 65536))
      .map((text) => Buffer.from(text))
    for (const algorithm of ['sha256', 'blake3']) {
      const want = algorithm === 'sha256' ? crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex') : await offload.hash(Buffer.concat(chunks))
      assert.equal(await offload.hashStream(Readable.from(chunks), { algorithm }), want, algorithm)
    }
  })

  it('a chunk transferred away and collected while native code reads it does not crash the process', () => {
    const code = `
      const offload = require('.')
      const { Writable } = require('node:stream')
      const { pipeline } = require('node:stream/promises')
      async function main() {
        const chunk = Buffer.alloc(64 << 20, 7)
        const stream = offload.createCompressStream({ format: 'zstd', level: 19 })
        const sink = pipeline(stream, new Writable({ write: (c, e, cb) => cb() }))
        stream.write(chunk)
        await new Promise((r) => setTimeout(r, 50))
        let moved = 'copied'
        try { structuredClone(chunk.buffer, { transfer: [chunk.buffer] }) } catch (e) { moved = e.name }
        for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)) }
        stream.destroy()
        await sink.catch(() => {})
        // hashStream: a large chunk is read in place until the next one is asked for.
        const big = new Uint8Array(32 << 20).fill(3)
        async function* once() { yield big; structuredClone(big.buffer, { transfer: [big.buffer] }) }
        let hashed = 'ok'
        try { await offload.hashStream(once()) } catch (e) { hashed = e.name }
        globalThis.gc()
        console.log(JSON.stringify({ moved, hashed }))
      }
      main().catch((e) => { console.error(e); process.exit(1) })`
    const result = child(code, ['--expose-gc'])
    assert.equal(result.signal, null, `the child died: ${result.stderr}`)
    assert.equal(result.status, 0, result.stderr)
    const { moved } = JSON.parse(result.stdout.trim().split('\n').pop())
    // Node 20 copies an untransferable buffer; Node 21 and later refuse it.
    assert.ok(['copied', 'DataCloneError'].includes(moved), moved)
  })
})

suite('stream output is bounded by the consumer', () => {
  it('a 1 GiB bomb through a stalled consumer grows memory by well under 64 MiB; a reader gets it all', () => {
    const code = `
      const offload = require('.')
      const zlib = require('node:zlib')
      async function main() {
        const member = zlib.gzipSync(Buffer.alloc(64 << 20), { level: 9 })
        const bomb = Buffer.concat(Array.from({ length: 16 }, () => member)) // 1 GiB of zeros
        globalThis.gc()
        const base = process.memoryUsage().rss
        const stream = offload.createDecompressStream()
        stream.end(bomb)
        let peak = 0
        for (let i = 0; i < 40; i++) {
          await new Promise((r) => setTimeout(r, 10))
          peak = Math.max(peak, process.memoryUsage().rss - base)
        }
        let total = 0
        let largest = 0
        for await (const chunk of stream) {
          total += chunk.length
          largest = Math.max(largest, chunk.length)
        }
        console.log(JSON.stringify({ stalledGrowth: peak, total, largest }))
      }
      main().catch((e) => { console.error(e); process.exit(1) })`
    const result = child(code, ['--expose-gc'])
    assert.equal(result.status, 0, result.stderr)
    const { stalledGrowth, total, largest } = JSON.parse(result.stdout.trim().split('\n').pop())
    assert.equal(total, 1 << 30)
    assert.ok(largest <= 2 * MiB, `chunks of at most a step: ${largest}`)
    assert.ok(stalledGrowth < 64 * MiB, `RSS grew by ${(stalledGrowth / MiB).toFixed(1)} MiB with a stalled consumer`)
  })

  it('a stalled consumer holds the writer of a decompressing stream', async () => {
    const data = logLines(64 * MiB, 8)
    const packed = zlib.gzipSync(data, { level: 1 })
    const stream = offload.createDecompressStream()
    let written = 0
    const source = Readable.from((function* () {
      for (let at = 0; at < packed.length; at += 64 * 1024) {
        const piece = packed.subarray(at, at + 64 * 1024)
        written += piece.length
        yield piece
      }
    })())
    source.pipe(stream)
    await tick(300)
    // Nothing reads the output: a few MiB of input at most were taken.
    assert.ok(written < packed.length / 2, `wrote ${written} of ${packed.length} bytes to a stream nobody read`)
    let total = 0
    for await (const chunk of stream) total += chunk.length
    assert.equal(total, data.length)
  })

  it('files and streams have no output cap unless set; maxOutputLength takes any safe integer for them', async () => {
    const stream = offload.createDecompressStream({ maxOutputLength: 2 ** 40 })
    stream.destroy()
    // A Buffer holds at most MAX_LENGTH bytes: 2^32 on Node 20, 2^53 - 1 on Node 22 and later.
    const { MAX_LENGTH } = require('node:buffer').constants
    await assert.rejects(offload.decompress(Buffer.alloc(10), { maxOutputLength: MAX_LENGTH + 1 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.decompress(Buffer.alloc(10), { maxOutputLength: MAX_LENGTH }), { code: 'Z_DATA_ERROR' })
    const packed = zlib.gzipSync(Buffer.alloc(5 * MiB))
    await assert.rejects(
      pipeline(Readable.from([packed]), offload.createDecompressStream({ maxOutputLength: MiB }), new Writable({ write: (c, e, cb) => cb() })),
      { code: 'ERR_BUFFER_TOO_LARGE' },
    )
  })

  // Native file work whatever the Node: `npm test` runs it, the other versions' runs skip it.
  const skip = process.env.OFFLOAD_OTHER_NODE === '1' && 'Node-independent: run on the main Node'
  it('decompressFile writes 4.25 GiB (past 2^32) from a small .zst in bounded memory', { timeout: 300_000, skip }, () => {
    // Into RAM (tmpfs) where there is room: on disk the 4.25 GiB take half a minute to write.
    const big = roomInRam(8 * 2 ** 30) ? fs.mkdtempSync('/dev/shm/offload-big-') : dir
    after(() => big !== dir && fs.rmSync(big, { recursive: true, force: true }))
    const src = path.join(big, 'big.zst')
    const dest = path.join(big, 'big.out')
    const code = `
      const offload = require('.')
      const fs = require('node:fs')
      async function main() {
        const frame = await offload.compress(Buffer.alloc(256 << 20, 120), { format: 'zstd' })
        fs.writeFileSync(${JSON.stringify(src)}, Buffer.concat(Array.from({ length: 17 }, () => frame)))
        const base = process.memoryUsage().rss
        let peak = 0
        const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss - base) }, 5)
        const written = await offload.decompressFile(${JSON.stringify(src)}, ${JSON.stringify(dest)}, { format: 'auto' })
        clearInterval(timer)
        const size = fs.statSync(${JSON.stringify(dest)}).size
        fs.rmSync(${JSON.stringify(dest)})
        console.log(JSON.stringify({ written, size, peak }))
      }
      main().catch((e) => { console.error(e); process.exit(1) })`
    const result = child(code, [], 280_000)
    assert.equal(result.status, 0, result.stderr)
    const { written, size, peak } = JSON.parse(result.stdout.trim().split('\n').pop())
    assert.equal(written, 17 * 256 * MiB)
    assert.equal(size, written)
    assert.ok(peak < 128 * MiB, `RSS grew by ${(peak / MiB).toFixed(1)} MiB`)
  })
})

suite('gzip that every client reads', () => {
  const body = logLines(6 * MiB, 17)

  it('one gzip member: Python\'s zlib.decompressobj(31) leaves no unused data, for buffers, files and streams', async (t) => {
    if (!has('python3')) return t.skip('python3 is not installed (.ci/run installs it)')
    const fromBuffer = await offload.compress(body)
    const src = path.join(dir, 'body.txt')
    fs.writeFileSync(src, body)
    await offload.compressFile(src, path.join(dir, 'body.txt.gz'))
    const chunks = []
    await pipeline(Readable.from([body.subarray(0, 3 * MiB), body.subarray(3 * MiB)]), offload.createCompressStream(), new Writable({ write(c, e, cb) { chunks.push(c); cb() } }))
    const check = `
import sys, zlib
data = open(sys.argv[1], 'rb').read()
d = zlib.decompressobj(31)
out = d.decompress(data)
print(len(out), d.eof, len(d.unused_data))`
    for (const [name, bytes] of [['buffer', fromBuffer], ['file', fs.readFileSync(path.join(dir, 'body.txt.gz'))], ['stream', Buffer.concat(chunks)]]) {
      const file = path.join(dir, `one-member-${name}.gz`)
      fs.writeFileSync(file, bytes)
      const [length, eof, unused] = execFileSync('python3', ['-c', check, file], { encoding: 'utf8' }).trim().split(' ')
      assert.deepEqual([Number(length), eof, Number(unused)], [body.length, 'True', 0], name)
    }
  })

  it('curl --compressed and wget --compression=auto read a node:http response piped through createCompressStream', { timeout: 120_000 }, async (t) => {
    if (!has('curl') || !has('wget')) return t.skip('curl or wget is not installed (.ci/run installs them)')
    const server = http.createServer((req, res) => {
      const encoding = new URL(req.url, 'http://x').searchParams.get('enc')
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Encoding': encoding })
      const pieces = []
      for (let at = 0; at < body.length; at += 100_000) pieces.push(body.subarray(at, at + 100_000))
      pipeline(Readable.from(pieces), offload.createCompressStream({ format: encoding === 'br' ? 'brotli' : encoding, level: encoding === 'br' ? 5 : undefined }), res).catch(() => {})
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = (enc) => `http://127.0.0.1:${server.address().port}/?enc=${enc}`
    const run = (command, args) => new Promise((resolve) => {
      const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      const out = []
      let err = ''
      proc.stdout.on('data', (c) => out.push(c))
      proc.stderr.on('data', (c) => { err += c })
      proc.on('close', (status) => resolve({ status, out: Buffer.concat(out), err }))
    })
    try {
      const curlEncodings = ['gzip', 'br']
      const features = execFileSync('curl', ['--version'], { encoding: 'utf8' })
      if (/zstd/i.test(features)) curlEncodings.push('zstd')
      for (const enc of curlEncodings) {
        const got = await run('curl', ['-sS', '--compressed', '-H', `Accept-Encoding: ${enc}`, url(enc)])
        assert.equal(got.status, 0, `curl ${enc}: ${got.err}`)
        assert.ok(got.out.equals(body), `curl ${enc}: ${got.out.length} of ${body.length} bytes`)
      }
      const got = await run('wget', ['-q', '-O', '-', '--compression=auto', url('gzip')])
      assert.equal(got.status, 0, `wget: ${got.err}`)
      assert.ok(got.out.equals(body), `wget: ${got.out.length} of ${body.length} bytes`)
    } finally {
      server.close()
    }
  })

  it('one member at every level, within 1% of node:zlib\'s size', async () => {
    const input = logLines(16 * MiB, 6)
    for (const level of [1, 6, 9]) {
      const ours = await offload.compress(input, { level })
      const node = zlib.gzipSync(input, { level })
      assert.ok(ours.length <= node.length * 1.01, `level ${level}: ${ours.length} vs node ${node.length}`)
      // A second member would start with the magic bytes right after the first one's trailer;
      // a one-member reader (gunzip's 'finishFlush' aside) gets everything.
      assert.ok(zlib.gunzipSync(ours).equals(input))
      assert.equal(ours[9], 3, 'OS: Unix, as node:zlib writes on Linux')
    }
  })
})

suite('files behave like files', () => {
  const input = logLines(3 * MiB, 5)
  let src
  before(() => {
    src = path.join(dir, 'source.log')
    fs.writeFileSync(src, input)
    fs.chmodSync(src, 0o640)
  })
  const mode = (p) => fs.statSync(p).mode & 0o7777

  it('an existing destination keeps its mode; a new one takes the source\'s bits', async () => {
    const existing = path.join(dir, 'existing.gz')
    fs.writeFileSync(existing, 'old')
    fs.chmodSync(existing, 0o600)
    await offload.compressFile(src, existing)
    assert.equal(mode(existing), 0o600)
    const fresh = path.join(dir, 'fresh.gz')
    await offload.compressFile(src, fresh)
    assert.equal(mode(fresh), 0o640)
    const back = path.join(dir, 'fresh.log')
    await offload.decompressFile(fresh, back)
    assert.equal(mode(back), 0o640)
    assert.ok(fs.readFileSync(back).equals(input))
  })

  it('a symlink destination writes to the file it points to and stays a symlink', async () => {
    const real = path.join(dir, 'real.gz')
    fs.writeFileSync(real, 'old')
    const link = path.join(dir, 'link.gz')
    fs.symlinkSync('real.gz', link)
    await offload.compressFile(src, link)
    assert.ok(fs.lstatSync(link).isSymbolicLink())
    assert.ok(zlib.gunzipSync(fs.readFileSync(real)).equals(input))
  })

  it('a destination that is not a regular file, a directory, or the source itself is refused before any work', async () => {
    const nullBefore = fs.statSync('/dev/null')
    await assert.rejects(offload.compressFile(src, '/dev/null'), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /not a regular file/.test(e.message))
    const nullAfter = fs.statSync('/dev/null')
    assert.ok(nullAfter.isCharacterDevice() && nullAfter.ino === nullBefore.ino, '/dev/null is still the device')
    const folder = path.join(dir, 'a-folder')
    fs.mkdirSync(folder)
    await assert.rejects(offload.compressFile(src, folder), { code: 'EISDIR', syscall: 'open', path: folder })
    assert.deepEqual(fs.readdirSync(folder), [])
    await assert.rejects(offload.compressFile(src, src), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /source file itself/.test(e.message))
    const viaLink = path.join(dir, 'source-link')
    fs.symlinkSync(src, viaLink)
    await assert.rejects(offload.decompressFile(viaLink, src), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
    assert.ok(fs.readFileSync(src).equals(input), 'the source is untouched')
    assert.deepEqual(temporaries(), [])
  })

  it('the temporary file is gone when a rejected call settles (rmdir right after an abort works)', async () => {
    const big = path.join(dir, 'big-source.log')
    fs.writeFileSync(big, logLines(48 * MiB, 9))
    for (let round = 0; round < 3; round++) {
      const out = fs.mkdtempSync(path.join(dir, 'out-'))
      const controller = new AbortController()
      const call = offload.compressFile(big, path.join(out, 'x.gz'), { level: 9, signal: controller.signal })
      setTimeout(() => controller.abort(), 20 + round * 15)
      await assert.rejects(call, { name: 'AbortError' })
      fs.rmdirSync(out) // ENOTEMPTY if a temporary file were left
    }
  })

  it('any name fs can create works (a 250-character name); a stale temporary never blocks a call', async () => {
    const long = path.join(dir, `${'n'.repeat(250)}.gz`)
    await offload.compressFile(src, long)
    assert.ok(zlib.gunzipSync(fs.readFileSync(long)).equals(input))
    // What a killed process would leave: a temporary name beside the destination.
    fs.writeFileSync(path.join(dir, '.offload-0000000000000000.tmp'), 'stale')
    await offload.compressFile(src, path.join(dir, 'after-stale.gz'))
    fs.rmSync(path.join(dir, '.offload-0000000000000000.tmp'))
  })

  it('fs errors keep their codes (ENOSPC on a full file system, where one can be mounted)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount a small tmpfs')
    const small = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-full-'))
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]).status !== 0) {
      fs.rmdirSync(small)
      return t.skip('tmpfs cannot be mounted here')
    }
    try {
      const noise = crypto.randomBytes(4 * MiB)
      const noisy = path.join(dir, 'noise.bin')
      fs.writeFileSync(noisy, noise)
      await assert.rejects(offload.compressFile(noisy, path.join(small, 'noise.gz'), { level: 1 }), { code: 'ENOSPC', errno: -28, syscall: 'write' })
      assert.deepEqual(temporaries(small), [])
      spawnSync('mount', ['-o', 'remount,ro', small])
      await assert.rejects(offload.compressFile(src, path.join(small, 'ro.gz')), { code: 'EROFS', errno: -30 })
    } finally {
      spawnSync('umount', [small])
      fs.rmdirSync(small)
    }
  })
})

suite('a source that blocks never holds a slot', () => {
  it('aborted calls on a FIFO with no writer free their slots; later calls run', { timeout: 60_000 }, async () => {
    const fifo = path.join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const calls = [
      (signal) => offload.readCsv(fifo, { signal }),
      (signal) => offload.compressFile(fifo, path.join(dir, 'fifo.gz'), { signal }),
      (signal) => offload.hashFile(fifo, { signal }),
    ]
    for (const call of calls) {
      const controllers = [new AbortController(), new AbortController()]
      const pending = controllers.map((c) => call(c.signal))
      await tick(30)
      for (const c of controllers) c.abort()
      await Promise.all(pending.map((p) => assert.rejects(p, { name: 'AbortError' })))
      // The slots come back within the usual milliseconds (a generous bound: a busy machine).
      const deadline = Date.now() + 10_000
      while (offload.stats().inFlight > 0 && Date.now() < deadline) await tick()
      assert.equal(offload.stats().inFlight, 0, 'the slots are free')
      assert.equal(await offload.hash('still works', { algorithm: 'sha256' }), crypto.createHash('sha256').update('still works').digest('hex'))
    }
    // With a writer, a FIFO is read to its end.
    const writer = spawn('sh', ['-c', `printf 'a,b\\n1,2\\n3,4\\n' > '${fifo}'`])
    // Listened for before the read: the writer may have exited by the time readCsv resolves.
    const closed = new Promise((r) => writer.on('close', r))
    const table = await offload.readCsv(fifo)
    assert.deepEqual(Array.from(table.columns.a), [1, 3])
    await closed
    assert.deepEqual(temporaries(), [])
  })

  it('readCsv of a file with no line end is a CSV error, not unbounded growth', async () => {
    const before = offload.configure({}).maxAllocation
    offload.configure({ maxAllocation: 200 * MiB })
    try {
      await assert.rejects(offload.readCsv('/dev/zero'), { code: 'ERR_CSV_RECORD_TOO_LONG' })
    } finally {
      offload.configure({ maxAllocation: before })
    }
  })

  it('hashStream settles on abort whatever the iterable (one that never yields again, with no destroy())', async () => {
    const never = {
      [Symbol.asyncIterator]() {
        let first = true
        return { next: () => (first ? ((first = false), Promise.resolve({ value: Buffer.from('x'), done: false })) : new Promise(() => {})) }
      },
    }
    const controller = new AbortController()
    const call = offload.hashStream(never, { signal: controller.signal })
    await tick(20)
    controller.abort(new Error('enough'))
    await assert.rejects(call, (e) => e.name === 'AbortError' && e.cause.message === 'enough')
  })
})

suite('calls and their counters', () => {
  it('stats() counts a stream or hashStream as one call, and their argument errors', async () => {
    const before = offload.stats()
    const chunks = Array.from({ length: 40 }, (_, i) => logLines(256 * 1024, i))
    await pipeline(Readable.from(chunks), offload.createCompressStream({ format: 'zstd' }), new Writable({ write: (c, e, cb) => cb() }))
    await offload.hashStream(Readable.from(chunks))
    assert.throws(() => offload.createCompressStream({ level: 99 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.hashStream(42), { code: 'ERR_INVALID_ARG_TYPE' })
    const after = offload.stats()
    assert.equal(after.completed - before.completed, 2)
    assert.equal(after.failed - before.failed, 2)
    assert.equal(after.running, 0)
  })

  it('a CSV header of 200,000 columns parses (linear duplicate check) and can be aborted', { timeout: 60_000 }, async () => {
    const names = Array.from({ length: 200_000 }, (_, i) => `c${i % 150_000}`) // 50,000 repeats
    const csv = `${names.join(',')}\n${names.map((_, i) => i).join(',')}\n`
    const t = Date.now()
    const table = await offload.parseCsv(csv)
    // Quadratic, this took minutes; linear, well under a second (the bound is only generous).
    assert.ok(Date.now() - t < 20_000)
    assert.equal(Object.keys(table.columns).length, 200_000)
    assert.equal(table.columns.c5_2[0], 150_005)
    // A wider header is checked for aborts as it is read.
    const wide = `${Array.from({ length: 3_000_000 }, (_, i) => `n${i % 1000}`).join(',')}\n`
    const controller = new AbortController()
    const call = offload.parseCsv(wide, { signal: controller.signal })
    setTimeout(() => controller.abort(), 10)
    await assert.rejects(call, { name: 'AbortError' })
    const deadline = Date.now() + 10_000
    while (offload.stats().running > 0 && Date.now() < deadline) await tick()
    assert.equal(offload.stats().running, 0, 'the parse stopped')
  })
})
