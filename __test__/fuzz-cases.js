'use strict'

// Hostile-argument fuzzing of every export, shared by the quick run in `npm test`
// (fuzz.test.js) and the long one (`npm run fuzz`, stress/fuzz.js).
//
// Each case calls a handful of exports at once, every argument position drawn either from
// values that get past the checks (so the native side runs) or from a pool of every kind of
// JS value: primitives at their edges, symbols, bigints, functions, typed arrays of every kind,
// detached, resizable and shared buffers, objects whose getters throw or change between reads,
// Proxies, lying typed-array subclasses. What must hold: no call throws synchronously, every
// call settles within a deadline, and it settles with a value or with a TypeError, RangeError
// or AbortError carrying a `code` (or an fs error for a path, or the fuzzer's own exception
// rethrown from one of its getters).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const fc = require('fast-check')

const offload = require('..')
const { KINDS } = require('./reference.js')

/** What a hostile getter or Proxy trap throws; a call may reject with exactly this. */
const SENTINEL = new Error('thrown by the fuzzer')

/** Every call's abort deadline: bounds the native work a fuzzed call can start. */
const ABORT_AFTER_MS = 20
/** A call that has not settled by then is a hang. */
const SETTLE_WITHIN_MS = 15_000


const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-fuzz-'))
const aFile = path.join(tmp, 'file.bin')
fs.writeFileSync(aFile, Buffer.alloc(10_000, 7))

function fill(Kind, values) {
  const a = new Kind(values.length)
  const big = Kind === BigInt64Array || Kind === BigUint64Array
  values.forEach((x, i) => {
    a[i] = big ? BigInt.asIntN(64, BigInt(Math.trunc(Number.isFinite(x) ? x : 0))) : x
  })
  return a
}

const numbers = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, -(2 ** 31)),
)

/** A typed array of any kind over an ordinary, resizable or shared buffer, or a detached one. */
const typedArray = fc
  .record({
    kind: fc.constantFrom(...KINDS),
    values: fc.oneof(
      { weight: 8, arbitrary: fc.array(numbers, { maxLength: 64 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1000, max: 300_000 }).map((n) => Array.from({ length: n }, (_, i) => Math.sin(i) * n)) },
    ),
    backing: fc.constantFrom('plain', 'plain', 'plain', 'offset', 'resizable', 'shared', 'detached', 'liar'),
  })
  .map(({ kind, values, backing }) => {
    const a = fill(kind, values)
    const bytes = a.byteLength
    switch (backing) {
      case 'offset': {
        const buffer = new ArrayBuffer(bytes + 16)
        const view = new kind(buffer, 8, a.length)
        view.set(a)
        return view
      }
      case 'resizable': {
        const view = new kind(new ArrayBuffer(bytes, { maxByteLength: bytes + 64 }))
        view.set(a)
        return view
      }
      case 'shared': {
        const view = new kind(new SharedArrayBuffer(bytes))
        view.set(a)
        return view
      }
      case 'detached':
        structuredClone(a.buffer, { transfer: [a.buffer] })
        return a
      case 'liar': {
        // A subclass whose length and buffer getters lie; offload must use the real ones.
        const Liar = class extends kind {
          get length() {
            return 1e9
          }
          get byteLength() {
            return 7
          }
          get byteOffset() {
            return 3
          }
        }
        const view = new Liar(a.length)
        view.set(a)
        return view
      }
      default:
        return a
    }
  })

const bytes = fc.oneof(
  typedArray,
  fc.uint8Array({ maxLength: 256 }),
  fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u)),
  fc.uint8Array({ maxLength: 64 }).map((u) => new DataView(u.buffer)),
  fc.uint8Array({ maxLength: 64 }).map((u) => u.buffer),
  fc.string(),
)

/** Values with getters that throw, or that answer differently on each read. */
function hostile(arb) {
  return fc.tuple(arb, fc.constantFrom('throw', 'flip', 'proxy', 'proxy-throw')).map(([value, how]) => {
    if (value === null || typeof value !== 'object') return value
    const target = Array.isArray(value) ? [...value] : { ...value }
    const keys = Object.keys(target)
    switch (how) {
      case 'throw':
        for (const key of keys.slice(0, 1)) {
          Object.defineProperty(target, key, {
            get() {
              throw SENTINEL
            },
            enumerable: true,
          })
        }
        return target
      case 'flip':
        for (const key of keys) {
          let reads = 0
          const first = target[key]
          Object.defineProperty(target, key, {
            get() {
              return reads++ === 0 ? first : -1.5
            },
            enumerable: true,
          })
        }
        return target
      case 'proxy':
        return new Proxy(target, {})
      default:
        // Symbol keys pass (fast-check looks for its own); every named property throws.
        return new Proxy(target, {
          get(t, key) {
            if (typeof key === 'symbol') return Reflect.get(t, key)
            throw SENTINEL
          },
          has(t, key) {
            if (typeof key === 'symbol') return Reflect.has(t, key)
            throw SENTINEL
          },
        })
    }
  })
}

const anything = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    true,
    false,
    0,
    -0,
    1,
    -1,
    0.5,
    NaN,
    Infinity,
    -Infinity,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    Number.MAX_VALUE,
    '',
    'blake3',
    'nearest',
    'hex',
    Symbol('fuzz'),
    10n,
    -1n,
    2n ** 64n,
    [],
    {},
    () => 1,
    function named() {},
    new Date(0),
    /x/,
    new Map(),
    Promise.resolve(1),
    new ArrayBuffer(8),
    new AbortController().signal,
    new URL('https://example.com/'),
  ),
  numbers,
  fc.bigInt(),
  fc.string(),
  typedArray,
  fc.array(numbers, { maxLength: 5 }),
  hostile(fc.object({ maxDepth: 1 })),
  fc.object({ maxDepth: 1 }),
)

/** Each position: usually something that passes the checks, sometimes anything at all. */
const either = (valid, weight = 3) => fc.oneof({ weight, arbitrary: valid }, { weight: 1, arbitrary: anything })

/** Well-formed password hash strings with cheap parameters (arbitrary hash bytes: verifying any password against them resolves false). */
const STORED_HASHES = [
  '$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$g8b5fsWnwBbyGzOaBVJPRXtTqa4s6nypyCmdQuOiFP0',
  '$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$Ri7j6Rd8JM2slT9F8m1XkK1CePuD5UX10F0Trs3xZkw',
  '$scrypt$ln=4,r=2,p=1$c29tZXNhbHRzb21lc2FsdA$hOtSVb2Fp0tdy+9n6fM6Iyy0wGIShoQ2ZW/yVBY8xXU',
  '$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW',
]

/** A signal that aborts soon, one aborted already, or anything. */
const signal = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null).map(() => AbortSignal.timeout(ABORT_AFTER_MS)) },
  { weight: 1, arbitrary: fc.constant(null).map(() => AbortSignal.abort(new Error('fuzz reason'))) },
  { weight: 1, arbitrary: anything },
)

/**
 * Options objects with these keys (each present or not, valid or not), always with a bounding
 * signal unless the signal itself is being fuzzed; sometimes made hostile as a whole.
 */
function options(fields) {
  const record = fc.record({ ...fields, signal }, { requiredKeys: ['signal'] })
  return fc.oneof({ weight: 6, arbitrary: record }, { weight: 1, arbitrary: hostile(record) }, { weight: 1, arbitrary: anything })
}

const int = (min, max) => fc.integer({ min, max })
const image = fc
  .record({ width: int(1, 40), height: int(1, 40), channels: int(1, 4), mismatch: fc.boolean() })
  .chain(({ width, height, channels, mismatch }) =>
    fc.record({
      data: either(
        fc
          .uint8Array({ minLength: width * height * channels, maxLength: width * height * channels + (mismatch ? 3 : 0) })
          .map((u) => (mismatch ? u : new Uint8ClampedArray(u.buffer))),
      ),
      width: either(fc.constant(width), 6),
      height: either(fc.constant(height), 6),
      channels: fc.oneof(fc.constant(undefined), either(fc.constant(channels), 6)),
    }),
  )
const imageArg = fc.oneof({ weight: 5, arbitrary: image }, { weight: 1, arbitrary: hostile(image) }, { weight: 1, arbitrary: anything })

function matrix(kind) {
  return fc.record({ rows: int(0, 12), cols: int(0, 12) }).chain(({ rows, cols }) =>
    fc.record({
      data: either(fc.array(numbers, { minLength: rows * cols, maxLength: rows * cols }).map((v) => fill(kind, v)), 8),
      rows: either(fc.constant(rows), 8),
      cols: either(fc.constant(cols), 8),
    }),
  )
}
const matrices = fc
  .constantFrom(Float64Array, Float32Array)
  .chain((kind) => fc.tuple(either(matrix(kind)), either(matrix(kind))))

const paths = fc.oneof(
  fc.constantFrom(aFile, tmp, path.join(tmp, 'missing'), Buffer.from(aFile), pathToFileURL(aFile), 'a\u0000b'),
  fc.string(),
)

function notHugeCount(x) {
  return !((typeof x === 'number' && x > 1e9) || (typeof x === 'bigint' && x > 1_000_000_000n))
}

// Where compressFile and decompressFile may write: only inside the fuzz directory (a random
// string would be a path relative to the working directory).
const destinations = fc.constantFrom(path.join(tmp, 'out.bin'), path.join(tmp, 'missing', 'out.bin'), tmp, pathToFileURL(path.join(tmp, 'out2.bin')), 'a\u0000b', 42)
const FORMATS = ['gzip', 'deflate', 'deflate-raw', 'zstd', 'brotli']

/** The exports with an arbitrary for their argument list each. */
const CALLS = {
  sort: fc.tuple(either(typedArray), options({ descending: either(fc.boolean()), inPlace: either(fc.boolean()) })),
  argsort: fc.tuple(either(typedArray), options({ descending: either(fc.boolean()) })),
  describe: fc.tuple(either(typedArray), options({ ddof: either(fc.constantFrom(0, 1, 2.5)) })),
  quantiles: fc.tuple(
    either(typedArray),
    either(fc.oneof(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), hostile(fc.array(fc.double({ min: 0, max: 1 }))))),
    options({}),
  ),
  histogram: fc.tuple(
    either(typedArray),
    options({ bins: either(int(1, 100)), range: either(fc.tuple(fc.double({ noNaN: true }), fc.double({ noNaN: true }))) }),
  ),
  hash: fc.tuple(
    either(bytes),
    options({
      algorithm: either(fc.constantFrom('blake3', 'sha256', 'sha512', 'xxh3-64', 'xxh3-128')),
      encoding: either(fc.constantFrom('hex', 'base64', 'base64url', 'buffer')),
    }),
  ),
  hashMany: fc.tuple(either(fc.array(either(bytes, 8), { maxLength: 6 })), options({ algorithm: either(fc.constantFrom('blake3', 'xxh3-64')) })),
  hashFile: fc.tuple(either(paths), options({ algorithm: either(fc.constantFrom('sha256', 'xxh3-128')) })),
  hashFiles: fc.tuple(either(fc.array(either(paths, 8), { maxLength: 4 })), options({})),
  hashStream: fc.tuple(anything, options({ algorithm: either(fc.constantFrom('sha256', 'blake3')) })),
  compress: fc.tuple(either(bytes), options({ format: either(fc.constantFrom(...FORMATS)), level: either(int(-2, 20)) })),
  decompress: fc.tuple(either(bytes), options({ format: either(fc.constantFrom(...FORMATS, 'auto')), maxOutputLength: either(int(0, 1_000_000)) })),
  compressFile: fc.tuple(either(paths), destinations, options({ format: either(fc.constantFrom(...FORMATS)), level: either(int(-2, 9)) })),
  decompressFile: fc.tuple(either(paths), destinations, options({ format: either(fc.constantFrom(...FORMATS, 'auto')), maxOutputLength: either(int(0, 1_000_000)) })),
  // Without the harness's signal (an options value that is not one of its records, or none at
  // all), a valid huge n would be legitimately hours of work: such n are left out of `anything`.
  parseCsv: fc.tuple(
    either(fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('a,b\n1,2\n', 'a,"b\n1', 'x\n"1""2"\n', '\ufeffa;b\r\n1;2'), bytes)),
    options({
      delimiter: either(fc.constantFrom(',', ';', '\t', '"', '\n')),
      header: either(fc.boolean()),
      maxRows: either(int(0, 5)),
      columns: either(fc.dictionary(fc.constantFrom('a', 'b', '0', 'x'), fc.constantFrom('float64', 'int32', 'int64', 'bool', 'date', 'string', 'category', 'uint32', 'float32'))),
      relaxColumnCount: either(fc.boolean()),
      types: either(fc.dictionary(fc.constantFrom('a', 'b', '__proto__'), fc.constantFrom('float64', 'date', 'category', 'string'))),
      decimal: either(fc.constantFrom(',', '.', ';')),
      nullValues: either(fc.constantFrom('pandas', ['NA'], [])),
      encoding: either(fc.constantFrom('latin1', 'utf-16le', 'windows-1252', 'utf-8')),
    }),
  ),
  readCsv: fc.tuple(either(paths), options({ header: either(fc.boolean()), encoding: either(fc.constantFrom('latin1', 'utf-16le', 'windows-1252')), compression: either(fc.constantFrom('auto', 'none', 'gzip', 'zstd', 'brotli')) })),
  groupBy: fc.tuple(
    either(fc.oneof(typedArray, fc.record({ codes: fc.array(fc.constantFrom(0, 1, 2, 0xffffffff), { maxLength: 30 }).map((a) => Uint32Array.from(a)), values: fc.constantFrom(['a', 'b', 'c'], ['x'], []) }))),
    either(fc.oneof(typedArray, fc.dictionary(fc.constantFrom('a', '__proto__', 'n'), typedArray))),
    options({
      aggregations: either(fc.subarray(['count', 'sum', 'mean', 'min', 'max', 'std', 'median'])),
      quantiles: either(fc.array(fc.double({ min: -0.5, max: 1.5 }), { maxLength: 3 })),
      ddof: either(fc.constantFrom(0, 1, -1)),
    }),
  ),
  hashPassword: fc.tuple(
    either(fc.oneof(fc.string({ maxLength: 80 }), bytes)),
    options({
      algorithm: either(fc.constantFrom('argon2id', 'argon2i', 'argon2d', 'scrypt', 'bcrypt')),
      memoryCost: either(int(0, 4096)),
      timeCost: either(int(0, 3)),
      parallelism: either(int(0, 4)),
      N: either(fc.constantFrom(1, 2, 16, 1000, 1024)),
      r: either(int(0, 8)),
      p: either(int(0, 3)),
      cost: either(int(3, 6)),
      hashLength: either(int(0, 80)),
      salt: either(bytes),
      truncate: either(fc.boolean()),
    }),
  ),
  verifyPassword: fc.tuple(
    either(fc.oneof(fc.constantFrom(...STORED_HASHES), fc.string({ maxLength: 120 }))),
    either(fc.oneof(fc.string({ maxLength: 80 }), bytes)),
    options({ maxMemory: either(int(0, 2 ** 24)), maxTime: either(int(1, 4)), maxParallelism: either(int(1, 4)), maxBcryptCost: either(int(4, 6)), truncate: either(fc.boolean()) }),
  ),
  countPrimes: fc.tuple(
    fc.oneof({ weight: 3, arbitrary: fc.oneof(int(0, 2_000_000), fc.bigInt({ min: 0n, max: 100_000n })) }, { weight: 1, arbitrary: anything.filter(notHugeCount) }),
    options({}),
  ),
  primes: fc.tuple(either(int(0, 2_000_000)), options({})),
  matmul: matrices.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), options({}))),
  topK: matrices.chain(([a, b]) => fc.tuple(fc.constant(a), fc.oneof(fc.constant(b), fc.constantFrom(new Float64Array(3), new Float32Array(2), new Float64Array(0))), either(int(0, 20)), options({ metric: either(fc.constantFrom('cosine', 'dot', 'l2')) }))),
  mandelbrot: fc.tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.tuple(options({ width: either(int(1, 300)), height: either(int(1, 300)), maxIterations: either(int(1, 5000)), scale: either(fc.double({ min: 1e-9, max: 10 })), centerX: either(fc.double({ min: -2, max: 2 })) }), fc.constant(0)).map(([o]) => o) },
      { weight: 1, arbitrary: anything },
    ),
  ),
  grayscale: fc.tuple(imageArg, options({})),
  blur: fc.tuple(imageArg, options({ sigma: either(fc.double({ min: 0.1, max: 50, noNaN: true })) })),
  resize: fc.tuple(
    imageArg,
    options({
      width: either(int(1, 200)),
      height: either(int(1, 200)),
      filter: either(fc.constantFrom('nearest', 'bilinear', 'bicubic', 'lanczos3')),
    }),
  ),
}

/** Sometimes an extra argument, sometimes one too few: positions shift. */
const call = fc.constantFrom(...Object.keys(CALLS)).chain((name) =>
  fc.tuple(fc.constant(name), CALLS[name], fc.constantFrom('as-is', 'as-is', 'as-is', 'extra', 'fewer'), anything).map(([n, args, shape, extra]) => {
    if (shape === 'extra') return [n, [...args, extra]]
    if (shape === 'fewer') return [n, args.slice(0, -1)]
    return [n, args]
  }),
)

const FS_CODES = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES', 'ENAMETOOLONG', 'ELOOP', 'EINVAL'])

/** Why a settled outcome is not allowed, or null when it is. */
function judge(name, outcome) {
  if (outcome.ok) return null
  const e = outcome.error
  if (e === SENTINEL) return null
  if (!(e instanceof Error)) return `rejected with a non-Error: ${String(e)}`
  if (e.name === 'AbortError') return e.code === 'ABORT_ERR' ? null : `AbortError with code ${e.code}`
  if ((e instanceof TypeError || e instanceof RangeError) && typeof e.code === 'string' && e.code.startsWith('ERR_')) return null
  if (['hashFile', 'hashFiles', 'compressFile', 'decompressFile', 'readCsv'].includes(name) && FS_CODES.has(e.code)) return null
  // A malformed file: CSV's own codes, naming the line.
  if (['parseCsv', 'readCsv'].includes(name) && /^ERR_CSV_[A-Z0-9_]+$/.test(e.code) && Number.isInteger(e.line)) return null
  // Compressed data that is not (readCsv of a file it was told is compressed, too): the
  // decoders' errors, coded as node:zlib codes them.
  if (['decompress', 'decompressFile', 'readCsv'].includes(name) && /^(Z_[A-Z_]+|ZSTD_error_\w+|ERR__ERROR_\w+)$/.test(e.code) && Number.isInteger(e.errno)) return null
  return `unexpected ${e.name} (code ${e.code}): ${e.message}`
}

function describeArgs(args) {
  return require('node:util').inspect(args, { depth: 2, maxArrayLength: 4, breakLength: Infinity }).slice(0, 400)
}

/** Runs one case: all its calls at once. Throws (fails the property) on any violation. */
// Diagnostics for the long run: FUZZ_PROGRESS=1 prints the counters every 500 cases and any
// case slower than a second; FUZZ_TRACE=n prints every case from the n-th on.
let casesRun = 0
function show(calls) {
  return calls.map(([name, args]) => `${name} ${describeArgs(args)}`)
}

async function runCase(calls) {
  casesRun++
  const started = Date.now()
  const { FUZZ_PROGRESS, FUZZ_TRACE } = process.env
  if (FUZZ_TRACE && casesRun >= Number(FUZZ_TRACE)) console.error(casesRun, show(calls))
  if (FUZZ_PROGRESS && casesRun % 500 === 0) console.error(`case ${casesRun}`, JSON.stringify(offload.stats()))
  try {
    await runCalls(calls)
  } finally {
    if (FUZZ_PROGRESS && Date.now() - started > 1000) console.error(`slow case (${Date.now() - started} ms):`, show(calls))
  }
}

async function runCalls(calls) {
  const settled = calls.map(([name, args]) => {
    let promise
    try {
      promise = offload[name](...args)
    } catch (error) {
      throw new Error(`${name} threw synchronously: ${error && error.message} with ${describeArgs(args)}`)
    }
    if (!(promise instanceof Promise)) throw new Error(`${name} did not return a Promise`)
    let timer
    const deadline = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ hung: true }), SETTLE_WITHIN_MS)
    })
    const outcome = promise.then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error }),
    )
    return Promise.race([outcome, deadline]).then((r) => {
      clearTimeout(timer)
      return { name, args, r }
    })
  })
  for (const { name, args, r } of await Promise.all(settled)) {
    if (r.hung) throw new Error(`${name} did not settle within ${SETTLE_WITHIN_MS} ms: ${describeArgs(args)}`)
    const why = judge(name, r)
    if (why !== null) throw new Error(`${name}: ${why}; arguments ${describeArgs(args)}`)
  }
}

/** configure() is synchronous: it returns the settings or throws a coded TypeError/RangeError. */
const configureRecord = fc.record(
  {
    threads: either(int(1, 12)),
    maxInFlight: either(int(1, 8)),
    maxQueue: either(fc.oneof(int(0, 100), fc.constant(Infinity))),
    maxAllocation: either(fc.oneof(int(0, 2 ** 30), fc.constant(Infinity))),
  },
  { requiredKeys: [] },
)
// configure takes no signal; a misspelt or unknown key is refused like any bad value.
const configureCase = fc.oneof(
  { weight: 6, arbitrary: configureRecord },
  { weight: 1, arbitrary: configureRecord.map((o) => ({ ...o, thread: 2 })) },
  { weight: 1, arbitrary: hostile(configureRecord) },
  { weight: 1, arbitrary: anything },
)

function runConfigure(opts) {
  const before = offload.stats()
  try {
    const result = offload.configure(opts)
    if (typeof result !== 'object' || typeof result.threads !== 'number') throw new Error('configure returned garbage')
  } catch (e) {
    if (e === SENTINEL) return
    if (!((e instanceof TypeError || e instanceof RangeError) && typeof e.code === 'string')) {
      throw new Error(`configure threw ${e && e.name}: ${e && e.message}`)
    }
  } finally {
    offload.configure({
      threads: before.threads,
      maxInFlight: before.maxInFlight,
      maxQueue: before.maxQueue,
      maxAllocation: before.maxAllocation,
    })
  }
}

/** Runs `numRuns` cases of 1 to 6 concurrent calls each; rejects on the first violation. */
async function fuzz({ numRuns, seed } = {}) {
  const before = offload.stats()
  // A fuzzed call may ask for large results; keep each one small enough to be quick.
  offload.configure({ maxAllocation: 64 * 2 ** 20, maxInFlight: 2 })
  try {
    await fc.assert(fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 6 }), runCase), {
      numRuns,
      seed,
      endOnFailure: true,
    })
    fc.assert(fc.property(configureCase, runConfigure), { numRuns: Math.max(50, Math.ceil(numRuns / 10)), seed, endOnFailure: true })
  } finally {
    offload.configure({ maxAllocation: before.maxAllocation, maxInFlight: before.maxInFlight })
  }
}

function cleanup() {
  fs.rmSync(tmp, { recursive: true, force: true })
}

module.exports = { CALLS, cleanup, configureCase, fuzz, runConfigure }
