'use strict'

// A plain node:http server with one cheap endpoint and three heavy ones, each heavy one doing
// its work in the way MODE names:
//   MODE=plain    JavaScript on the main thread (what a first version of a server does)
//   MODE=piscina  the same JavaScript in a worker_threads pool (piscina), one thread per core
//   MODE=offload  offload (the default)
//
//   GET  /ping          "pong": the request every user of the server is waiting on
//   GET  /stats         statistics over 4 million numbers held by the server
//   POST /hash          SHA-256 of the uploaded body, hex
//   GET  /resize        a raw 1920x1080 RGBA frame scaled down 4x (plain JS: a box filter;
//                       offload: bilinear); answers the result's byte length
//   GET  /export        8 MiB of JSON log lines held by the server, streamed compressed as the
//                       client's Accept-Encoding asks (zstd, br, gzip; identity otherwise):
//                       node:zlib's streams (plain, piscina) or createCompressStream (offload)
//   POST /signup        {"user", "password"}: hashes the password into an in-memory user table
//   POST /login         {"user", "password"}: 200 {"ok": true} or 401; a stored hash made with
//                       other parameters is replaced at login (needsRehash)
//   GET  /event-loop    the event loop's delay since the last call, and the latency of a small
//                       fs.readFile repeated meanwhile: { p50, p99, max, readFileP99 } in ms
//
// PASSWORDS picks what /signup and /login hash with: offload (argon2id, the default),
// @node-rs/argon2 or argon2 (both argon2id on libuv's pool), bcryptjs (cost 12, on the main
// thread in slices). The other endpoints follow MODE.
//
// PORT (default 3000; 0 picks a free one). NICE sets offload's niceIncrement (and piscina's,
// which needs the optional @napi-rs/nice). Prints "listening on <port>" when ready.
// `npm run demo:server` starts it in each mode and measures it under load with autocannon.

const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const zlib = require('node:zlib')

const offload = require('../..')
const work = require('./work.js')

const MODE = process.env.MODE || 'offload'
const PASSWORDS = process.env.PASSWORDS || 'offload'
if (!['plain', 'piscina', 'offload'].includes(MODE)) throw new Error(`MODE must be plain, piscina or offload; got ${MODE}`)
const FRAME = { width: 1920, height: 1080, factor: 4 }
const MAX_BODY = 64 << 20

// The server's data, in shared memory so that a pool worker reads it without a copy.
const values = new Float64Array(new SharedArrayBuffer(4_000_000 * 8))
for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) * 1000 + (i % 977)
const frame = new Uint8Array(new SharedArrayBuffer(FRAME.width * FRAME.height * 4))
for (let i = 0; i < frame.length; i++) frame[i] = (i * 2654435761) >>> 27

// The export: JSON log lines, sent in 64 KiB pieces as a file or a database cursor would.
const EXPORT = Buffer.from(Array.from({ length: 8 << 20 >> 7 }, (_, i) =>
  JSON.stringify({ id: i, level: ['info', 'warn', 'error'][i % 3], route: `/api/items/${i % 500}`, ms: (i * 37) % 1000 }).padEnd(127) + '\n').join(''))

/** The encoding to answer with, from Accept-Encoding (q-values honoured, 0 refuses). */
function negotiate(header = '') {
  const offered = new Map()
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)).find(Boolean)
    if (name) offered.set(name, q ? Number(q[1]) : 1)
  }
  const ok = (name) => (offered.get(name) ?? offered.get('*') ?? 0) > 0
  return ['zstd', 'br', 'gzip'].find(ok) ?? 'identity'
}

/** A compressing Transform for `encoding`: offload's, or node:zlib's in the other modes. */
function compressor(encoding) {
  if (MODE === 'offload') return offload.createCompressStream({ format: encoding === 'br' ? 'brotli' : encoding, level: encoding === 'br' ? 5 : undefined })
  if (encoding === 'zstd') return zlib.createZstdCompress ? zlib.createZstdCompress() : null
  if (encoding === 'br') return zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } })
  return zlib.createGzip()
}

async function sendExport(req, res) {
  let encoding = negotiate(req.headers['accept-encoding'])
  let transform = encoding === 'identity' ? null : compressor(encoding)
  if (transform === null && encoding === 'zstd') {
    // node:zlib has zstd only from Node 22.15 / 23.8: fall back to the next choice.
    encoding = negotiate(String(req.headers['accept-encoding']).replace(/zstd[^,]*/g, 'zstd;q=0'))
    transform = encoding === 'identity' ? null : compressor(encoding)
  }
  const headers = { 'content-type': 'application/x-ndjson', vary: 'Accept-Encoding' }
  if (transform !== null) headers['content-encoding'] = encoding
  res.writeHead(200, headers)
  const pieces = function* () { for (let at = 0; at < EXPORT.length; at += 65536) yield EXPORT.subarray(at, at + 65536) }
  await pipeline(Readable.from(pieces()), ...(transform ? [transform] : []), res)
}

if (process.env.NICE !== undefined) offload.configure({ niceIncrement: Number(process.env.NICE) })

let pool = null
if (MODE === 'piscina') {
  const { Piscina } = require('piscina')
  const threads = offload.configure().threads // the same number of threads as offload's pool
  pool = new Piscina({ filename: path.join(__dirname, 'work.js'), minThreads: threads, maxThreads: threads })
}

const heavy = {
  async stats() {
    if (MODE === 'plain') return work.stats(values)
    if (MODE === 'piscina') return pool.run({ kind: 'stats', buffer: values.buffer })
    const s = await offload.describe(values)
    return { count: s.count, mean: s.mean, min: s.min, max: s.max, stddev: s.stddev }
  },
  async hash(body) {
    if (MODE === 'plain') return work.sha256(body)
    if (MODE === 'piscina') {
      const copy = new Uint8Array(body) // transferred to the worker, not cloned
      return pool.run({ kind: 'hash', buffer: copy.buffer }, { transferList: [copy.buffer] })
    }
    return offload.hash(body, { algorithm: 'sha256' })
  },
  async resize() {
    const { width, height, factor } = FRAME
    if (MODE === 'plain') return work.shrink(frame, width, height, factor).data.byteLength
    if (MODE === 'piscina') return pool.run({ kind: 'resize', buffer: frame.buffer, width, height, factor })
    const out = await offload.resize({ data: frame, width, height, channels: 4 }, { width: width / factor, height: height / factor, filter: 'bilinear' })
    return out.data.byteLength
  },
}

/** How /signup and /login hash: each package's argon2id at OWASP's parameters, or bcryptjs. */
const passwordWays = {
  offload: () => ({ hash: (pw) => offload.hashPassword(pw), verify: (stored, pw) => offload.verifyPassword(stored, pw) }),
  '@node-rs/argon2': () => {
    const a = require('@node-rs/argon2')
    return { hash: (pw) => a.hash(pw, { memoryCost: 19456, timeCost: 2, parallelism: 1 }), verify: (stored, pw) => a.verify(stored, pw) }
  },
  argon2: () => {
    const a = require('argon2')
    return { hash: (pw) => a.hash(pw, { type: a.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }), verify: (stored, pw) => a.verify(stored, pw) }
  },
  bcryptjs: () => {
    const b = require('bcryptjs')
    return { hash: (pw) => b.hash(pw, 12), verify: (stored, pw) => b.compare(pw, stored) }
  },
}
if (!Object.hasOwn(passwordWays, PASSWORDS)) throw new Error(`PASSWORDS must be one of ${Object.keys(passwordWays).join(', ')}; got ${PASSWORDS}`)
const passwords = passwordWays[PASSWORDS]()
/** The user table: name -> stored hash. */
const users = new Map()
// Unknown users are checked against a hash too, so that a login's time does not tell which
// names exist.
const decoy = passwords.hash('decoy password')

async function credentials(req) {
  let body
  try {
    body = JSON.parse(await readBody(req, 4096))
  } catch (error) {
    throw Object.assign(new Error(error.status ? error.message : 'the body is not JSON'), { status: error.status || 400 })
  }
  const { user, password } = body ?? {}
  if (typeof user !== 'string' || typeof password !== 'string' || user.length === 0 || user.length > 64 || password.length > 1024) {
    throw Object.assign(new Error('expected {"user": 1-64 characters, "password": at most 1024}'), { status: 400 })
  }
  return { user, password }
}

async function signup(req, res) {
  const { user, password } = await credentials(req)
  if (users.has(user)) return send(res, 409, 'user exists')
  users.set(user, null) // taken while the hash runs
  try {
    users.set(user, await passwords.hash(password))
  } catch (error) {
    users.delete(user)
    throw error
  }
  send(res, 201, { user })
}

async function login(req, res) {
  const { user, password } = await credentials(req)
  const stored = users.get(user)
  const ok = await passwords.verify(stored ?? (await decoy), password)
  if (!ok || !stored) return send(res, 401, { ok: false })
  if (PASSWORDS === 'offload' && offload.needsRehash(stored)) users.set(user, await offload.hashPassword(password))
  send(res, 200, { ok: true })
}

const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()
// A small file read again and again: how long fs waits behind the work on libuv's pool.
const reads = []
setInterval(() => {
  const t0 = performance.now()
  fs.readFile(__filename, () => {
    reads.push(performance.now() - t0)
    if (reads.length > 10000) reads.splice(0, 5000)
  })
}, 10).unref()

function readBody(req, limit = MAX_BODY) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > limit) reject(Object.assign(new Error('body too large'), { status: 413 }))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function send(res, status, value) {
  const body = typeof value === 'string' ? value : JSON.stringify(value)
  res.writeHead(status, { 'content-type': typeof value === 'string' ? 'text/plain' : 'application/json' })
  res.end(body)
}

const server = http.createServer(async (req, res) => {
  try {
    const url = req.url.split('?')[0]
    if (req.method === 'GET' && url === '/ping') return send(res, 200, 'pong')
    if (req.method === 'GET' && url === '/stats') return send(res, 200, await heavy.stats())
    if (req.method === 'POST' && url === '/hash') return send(res, 200, await heavy.hash(await readBody(req)))
    if (req.method === 'GET' && url === '/resize') return send(res, 200, { bytes: await heavy.resize() })
    if (req.method === 'GET' && url === '/export') return await sendExport(req, res)
    if (req.method === 'POST' && url === '/signup') return await signup(req, res)
    if (req.method === 'POST' && url === '/login') return await login(req, res)
    if (req.method === 'GET' && url === '/event-loop') {
      const ms = (ns) => Math.round(ns / 1e4) / 100
      const sorted = reads.splice(0).sort((a, b) => a - b)
      const readFileP99 = sorted.length ? Math.round(sorted[Math.floor(sorted.length * 0.99)] * 100) / 100 : null
      const out = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max), readFileP99 }
      loop.reset()
      return send(res, 200, out)
    }
    send(res, 404, 'not found')
  } catch (error) {
    if (res.headersSent) res.destroy(error) // a stream that failed half-way: cut the response
    else send(res, error.status || 500, String(error.message))
  }
})

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port} (MODE=${MODE}, PASSWORDS=${PASSWORDS}, ${os.availableParallelism()} cores)`)
})

// Stop cleanly: finish what is in flight, close the pool.
process.on('SIGTERM', () => {
  server.close(() => (pool ? pool.destroy() : Promise.resolve()).then(() => process.exit(0)))
  server.closeAllConnections()
})
