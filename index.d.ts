/// <reference types="node" />
// Type definitions for offload. Every operation returns a Promise and never throws
// synchronously: invalid arguments reject with a TypeError or RangeError carrying a Node-style
// `code`; an aborted call rejects with an AbortError (`code: 'ABORT_ERR'`, `cause: signal.reason`).
// Calls on tiny inputs run during the call, on the calling thread, and return a settled Promise
// (see docs/contracts.md, "Tiny inputs run inline"); larger ones run on libuv and rayon threads.

/**
 * Any numeric typed array: offload reads it in place (do not modify it until the Promise
 * settles). Its ArrayBuffer is marked untransferable, and a resizable ArrayBuffer is refused;
 * see docs/contracts.md, "Reliability".
 */
export type NumericArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

/** Options every operation accepts. */
export interface CallOptions {
  /**
   * Aborts the call: an already-aborted signal rejects at once; an abort during the work stops
   * the kernel within milliseconds and rejects with an {@link AbortError}. A signal may be
   * shared by several calls and reused after a call ends.
   */
  signal?: AbortSignal
}

/** How far a long call has got, in its operation's unit (see each operation). */
export interface Progress {
  done: number
  total: number
}

/** Options of the operations that can run for long and report their progress. */
export interface ProgressOptions extends CallOptions {
  /**
   * Called with `{ done, total }` while the kernel runs, at most every `progressInterval` ms and
   * only when `done` changed, then once with `done === total` just before the Promise resolves;
   * never after it settles. A callback that throws stops the kernel and rejects the call with
   * that error. Costs nothing when absent.
   */
  onProgress?: (progress: Progress) => void
  /** Milliseconds between progress reports, an integer >= 1. Default 100. */
  progressInterval?: number
}

export interface SortOptions extends ProgressOptions {
  /** Largest first; NaN stays last. Default `false`. */
  descending?: boolean
  /** Sort `array` itself and resolve to it, instead of to a sorted copy. Default `false`. */
  inPlace?: boolean
}

/**
 * The kind of typed array a sorted copy of a `T` is: the same built-in kind (a subclass of a
 * typed array comes back as its built-in base), and a Buffer for a Buffer.
 */
export type SortedCopy<T extends NumericArray> = T extends Buffer
  ? Buffer
  : T extends Int8Array ? Int8Array
  : T extends Uint8ClampedArray ? Uint8ClampedArray
  : T extends Uint8Array ? Uint8Array
  : T extends Int16Array ? Int16Array
  : T extends Uint16Array ? Uint16Array
  : T extends Int32Array ? Int32Array
  : T extends Uint32Array ? Uint32Array
  : T extends Float32Array ? Float32Array
  : T extends Float64Array ? Float64Array
  : T extends BigInt64Array ? BigInt64Array
  : T extends BigUint64Array ? BigUint64Array
  : NumericArray

/**
 * Sorts numbers in the order of `TypedArray.prototype.sort()` (NaN last, -0 before +0), or
 * its reverse with NaN still last. Resolves to a new typed array of the same kind (a Buffer
 * for a Buffer), or with `inPlace` to `array` itself, sorted. Radix sort over all cores.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `array` is not a numeric typed array or an option has the wrong type;
 *   `ERR_INVALID_ARG_VALUE` when its buffer is detached.
 * @throws {RangeError} `ERR_OUT_OF_MEMORY` when the copy cannot be allocated.
 * @example
 * const sorted = await sort(new Float64Array([3, NaN, -1]))  // Float64Array [-1, 3, NaN]
 */
export function sort<T extends NumericArray>(array: T, options: SortOptions & { inPlace: true }): Promise<T>
export function sort<T extends NumericArray>(array: T, options?: SortOptions & { inPlace?: false }): Promise<SortedCopy<T>>
export function sort<T extends NumericArray>(array: T, options?: SortOptions): Promise<T | SortedCopy<T>>

export interface ArgsortOptions extends ProgressOptions {
  /** Largest first; NaN stays last. Default `false`. */
  descending?: boolean
}

/**
 * The indices that put `array` in the order {@link sort} gives, stable: equal values keep
 * the order of their indices. `array.length` may be at most 2 ** 32.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` as for {@link sort}.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for more than 2 ** 32 elements.
 * @example
 * await argsort(new Int32Array([30, 10, 20]))  // Uint32Array [1, 2, 0]
 */
export function argsort(array: NumericArray, options?: ArgsortOptions): Promise<Uint32Array>

export interface DescribeOptions extends CallOptions {
  /** Delta degrees of freedom: the variance divides by `count - ddof` (0: population, 1: sample). Default 0. */
  ddof?: number
}

/** Summary statistics of the non-NaN values. */
export interface Description {
  /** Number of non-NaN values. */
  count: number
  /** Number of NaN values (skipped everywhere else). */
  nanCount: number
  /** NaN when `count` is 0. */
  min: number
  max: number
  /** Neumaier-compensated sum; 0 when `count` is 0. */
  sum: number
  mean: number
  /** Sum of squared deviations / max(count - ddof, 0). */
  variance: number
  stddev: number
}

/**
 * Count, NaN count, min, max, compensated sum, mean, variance and standard deviation in one
 * pass over memory. BigInt values are read as float64.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` as for {@link sort}.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a negative or non-finite `ddof`.
 * @example
 * const { mean, stddev } = await describe(new Float64Array([1, 2, 3, 4]))  // 2.5, 1.118...
 */
export function describe(array: NumericArray, options?: DescribeOptions): Promise<Description>

/**
 * Quantiles of the non-NaN values by linear interpolation between order statistics (numpy's
 * default method, R type 7), one per probability; NaN for each when there are no values.
 * Uses radix selection, not a full sort.
 * @param probs Probabilities in [0, 1].
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `probs` is not an Array or Float64Array of numbers.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a probability outside [0, 1] or NaN.
 * @example
 * await quantiles(new Float64Array([1, 2, 3, 4]), [0.5, 0.9])  // Float64Array [2.5, 3.7]
 */
export function quantiles(
  array: NumericArray,
  probs: readonly number[] | Float64Array,
  options?: CallOptions,
): Promise<Float64Array>

export interface HistogramOptions extends CallOptions {
  /** Number of equal-width bins, 1 to 1048576. Default 10. */
  bins?: number
  /**
   * `[min, max]`, finite, `min <= max`. Default: the finite values' [min, max] ([0, 1] when
   * there are none; [v - 0.5, v + 0.5] when all equal v).
   */
  range?: readonly number[] | Float64Array
}

export interface Histogram {
  /** `counts[i]` values fell in `edges[i] <= x < edges[i + 1]` (the last bin also holds `x == edges[bins]`). */
  counts: Float64Array
  /** `bins + 1` edges, as `numpy.linspace(min, max, bins + 1)`. */
  edges: Float64Array
}

/**
 * numpy.histogram with equal-width bins. Values outside the range and NaN are not counted.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for bad `bins`, a non-finite range, or a range wider than the largest float64.
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` when `range` does not hold two numbers with min <= max.
 * @example
 * const { counts, edges } = await histogram(new Float64Array([1, 2, 1]), { bins: 3, range: [0, 3] })
 * // counts Float64Array [0, 2, 1], edges Float64Array [0, 1, 2, 3]
 */
export function histogram(array: NumericArray, options?: HistogramOptions): Promise<Histogram>

/** What `groupBy` computes per group and value column. */
export type GroupAggregation = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'std'

export interface GroupByOptions extends ProgressOptions {
  /** Default `['count', 'mean']`. `count` counts values that are not NaN (pandas' `count`). */
  aggregations?: readonly GroupAggregation[]
  /** Probabilities in [0, 1]: numpy's and pandas' default ("linear") quantiles per group. */
  quantiles?: readonly number[] | Float64Array
  /** Delta degrees of freedom of `std`; default 1, as pandas. */
  ddof?: number
  signal?: AbortSignal
}

/** One value column's aggregations: one entry per group (NaN where a group has no value). */
export interface GroupStats {
  count?: Float64Array
  sum?: Float64Array
  mean?: Float64Array
  min?: Float64Array
  max?: Float64Array
  std?: Float64Array
  /** One array per `options.quantiles` entry, in that order. */
  quantiles?: Float64Array[]
}

/** Integer typed arrays that can key a `groupBy`. */
export type IntegerArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array

export interface Grouped<K> {
  groups: number
  /** Each group's key: the category's value (groups in category order), or the integer (ascending). */
  keys: K
  /** Rows per group. */
  size: Float64Array
  /** Per value column (`value` when `values` was one array), its aggregations. */
  columns: Record<string, GroupStats>
}

/**
 * Group-by of numeric columns by a category column (`readCsv`'s `{ codes, values }`) or an
 * integer typed array, on every core: pandas' `df.groupby(key).agg([...])`. NaN values are
 * skipped; rows whose key is missing (code 0xFFFFFFFF) belong to no group; only keys that
 * occur are groups.
 * @example
 * const { columns } = await readCsv('requests.csv')
 * const g = await groupBy(columns.route, { latency: columns.latency }, { aggregations: ['count', 'mean'], quantiles: [0.99] })
 * // g.keys: routes; g.columns.latency.mean, g.columns.latency.quantiles[0] (p99)
 */
export function groupBy(keys: CategoryColumn, values: NumericArray | Record<string, NumericArray>, options?: GroupByOptions): Promise<Grouped<string[]>>
export function groupBy<K extends IntegerArray>(keys: K, values: NumericArray | Record<string, NumericArray>, options?: GroupByOptions): Promise<Grouped<K>>

/** Anything whose bytes can be hashed: a string (as UTF-8), a Buffer, any TypedArray or DataView (only the bytes it views), an ArrayBuffer or SharedArrayBuffer. */
export type HashInput = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer

export type HashAlgorithm = 'blake3' | 'sha256' | 'sha512' | 'xxh3-64' | 'xxh3-128'
export type HashEncoding = 'hex' | 'base64' | 'base64url' | 'buffer'
/** The encodings that give a string. */
export type StringEncoding = Exclude<HashEncoding, 'buffer'>

/**
 * Hashing options. Written without a type argument, `HashOptions` is for string digests;
 * `HashOptions<'buffer'>` is for Buffer digests.
 */
export interface HashOptions<E extends HashEncoding = StringEncoding> extends ProgressOptions {
  /**
   * Default `'blake3'`, which spreads one large input over all cores. SHA-256 and SHA-512 use
   * the CPU's SHA extensions; xxh3 (not cryptographic) is given in canonical big-endian order,
   * as `xxhsum` prints it.
   */
  algorithm?: HashAlgorithm
  /** Default `'hex'`; `'buffer'` resolves to a Buffer. */
  encoding?: E
}

/** A digest: a Buffer for `encoding: 'buffer'`, otherwise a string. */
export type Digest<E extends HashEncoding> = E extends 'buffer' ? Buffer : string

/**
 * The digest of `input`'s bytes. Large inputs are hashed in 4 MiB chunks between abort checks.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for another kind of input; `ERR_INVALID_ARG_VALUE`
 *   for an unknown `algorithm` or `encoding`, or a detached buffer.
 * @example
 * await hash('abc', { algorithm: 'sha256' })
 * // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function hash<E extends HashEncoding = 'hex'>(input: HashInput, options?: HashOptions<E>): Promise<Digest<E>>

/**
 * The digest of every input, in input order, hashed in parallel: how SHA-2, sequential within
 * one input, uses every core.
 * @example
 * const [a, b] = await hashMany(['a', Buffer.from('b')], { algorithm: 'sha256' })
 */
export function hashMany<E extends HashEncoding = 'hex'>(inputs: readonly HashInput[], options?: HashOptions<E>): Promise<Digest<E>[]>

/** A path as `fs` takes it. */
export type PathLike = string | Buffer | URL

/**
 * The digest of a file's bytes, read in Rust in chunks (never whole into memory).
 * A path that cannot be read rejects with the Error `fs` gives: `code` (`ENOENT`, `EACCES`,
 * `EISDIR`, ...), `errno`, `syscall` and message as `fs.promises.readFile` has them, and `path`.
 * @example
 * const digest = await hashFile('package.json')
 */
export function hashFile<E extends HashEncoding = 'hex'>(path: PathLike, options?: HashOptions<E>): Promise<Digest<E>>

/**
 * The digests of many files, in input order, files hashed in parallel. The first path (in input
 * order) that cannot be read rejects the call, and the error's `path` names it.
 */
export function hashFiles<E extends HashEncoding = 'hex'>(paths: readonly PathLike[], options?: HashOptions<E>): Promise<Digest<E>[]>

/**
 * Reads `readable` (a Readable stream or any async iterable of strings and byte chunks) to
 * its end and resolves to the digest of everything it yielded, hashed off the main thread as
 * chunks arrive (an upload endpoint can hash a body without buffering it). Same digest as
 * `hash` of the whole body. No chunk is read after the iterable is asked for the next one
 * (a generator may refill one buffer): chunks under 1 MiB are copied into a batch, larger ones
 * hashed in place first. An abort rejects with `AbortError` at once, whatever the iterable
 * does, and destroys a Readable. Counted as one call in `stats()`.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `readable` is not async-iterable.
 */
export function hashStream<E extends HashEncoding = 'hex'>(
  readable: AsyncIterable<string | ArrayBufferView>,
  options?: Omit<HashOptions<E>, 'onProgress' | 'progressInterval'>,
): Promise<Digest<E>>

/** `'deflate'` is the zlib wrapper (`zlib.deflate`); `'deflate-raw'` has none (`zlib.deflateRaw`). */
export type CompressionFormat = 'gzip' | 'deflate' | 'deflate-raw' | 'zstd' | 'brotli'

export interface CompressOptions extends ProgressOptions {
  /** Default `'gzip'`. */
  format?: CompressionFormat
  /**
   * gzip, deflate, deflate-raw: -1 to 9 (default 6, as node:zlib); zstd: 1 to 19 (default 3,
   * as the zstd CLI); brotli: 0 to 11 (default 11, as node:zlib).
   */
  level?: number
}

export interface DecompressOptions extends ProgressOptions {
  /** Default `'gzip'`; `'auto'` recognises gzip, zlib and zstd by their first bytes. */
  format?: CompressionFormat | 'auto'
  /**
   * The most output bytes allowed; past it the call rejects with `RangeError`
   * `ERR_BUFFER_TOO_LARGE` having allocated at most this much. `decompress` (a Buffer result):
   * default the per-buffer `maxAllocation` (see `configure`), at most
   * `buffer.constants.MAX_LENGTH`. `decompressFile` and `createDecompressStream` write as they
   * decode, in bounded memory: no limit by default, any safe integer allowed.
   */
  maxOutputLength?: number
}

/**
 * Compresses `input` on every core. gzip, deflate and deflate-raw output is one stream (for
 * gzip, one member) made pigz's way, which every decoder reads: curl, wget, browsers, proxies,
 * Python's zlib. Progress: input bytes.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a level outside the format's range.
 */
export function compress(input: HashInput, options?: CompressOptions): Promise<Buffer>
/**
 * Decompresses `input`. Corrupt or truncated input rejects with node:zlib's error for the same
 * bytes (`code` such as `Z_DATA_ERROR` or `Z_BUF_ERROR`, `errno`, message); zstd errors carry
 * libzstd's names (`ZSTD_error_prefix_unknown`, ...). Progress: input bytes.
 */
export function decompress(input: HashInput, options?: DecompressOptions): Promise<Buffer>
/**
 * Compresses the file `source` into `destination` in bounded memory, read and written in
 * Rust. The destination appears only when complete (written under a temporary name beside it,
 * then renamed): an error or an abort leaves it as it was, and the temporary file is gone when
 * the Promise settles. An existing destination keeps its mode; a new one gets the source's
 * permission bits (as `gzip -k`); a symbolic link stays a link and its target gets the bytes.
 * A destination that is a directory (`EISDIR`), not a regular file, or the source itself
 * (`ERR_INVALID_ARG_VALUE`) is refused before any work. A source that blocks (a FIFO) never
 * delays an abort. Resolves to the bytes written.
 */
export function compressFile(source: PathLike, destination: PathLike, options?: CompressOptions): Promise<number>
/** Decompresses the file `source` into `destination`; as `compressFile`. Resolves to the bytes written. */
export function decompressFile(source: PathLike, destination: PathLike, options?: DecompressOptions): Promise<number>

export interface StreamOptions {
  signal?: AbortSignal
  highWaterMark?: number
  readableHighWaterMark?: number
  writableHighWaterMark?: number
}
/**
 * A Transform that compresses, for `stream.pipeline()` where `zlib.createGzip()` goes: chunks
 * written while a batch compresses on every core form the next batch; output order is kept;
 * `destroy()` or the signal stops the native work. A chunk is read in place: its write
 * callback comes once native code no longer reads it (so a writer may then refill it), and its
 * ArrayBuffer is marked untransferable. Counted as one call in `stats()`.
 */
export function createCompressStream(options?: Omit<CompressOptions, keyof ProgressOptions> & StreamOptions): import('node:stream').Transform
/**
 * A Transform that decompresses, where `zlib.createGunzip()` goes. Output comes in steps of at
 * most 1 MiB and stops while the consumer does not read (the writer is then held), so memory
 * follows the consumer, not the input: a bomb through a stalled consumer stays small.
 */
export function createDecompressStream(options?: Omit<DecompressOptions, keyof ProgressOptions> & StreamOptions): import('node:stream').Transform

/** The column types of `parseCsv` and `readCsv`. */
export type CsvColumnType = 'float64' | 'float32' | 'int32' | 'uint32' | 'int64' | 'bool' | 'date' | 'string' | 'category'

/** Text encodings `parseCsv` (of bytes) and `readCsv` decode. A UTF-16 byte-order mark wins over the option. */
export type CsvEncoding = 'utf-8' | 'utf8' | 'latin1' | 'latin-1' | 'iso-8859-1' | 'binary' | 'windows-1252' | 'cp1252' | 'utf-16le' | 'utf16le' | 'ucs2' | 'ucs-2' | 'utf-16be' | 'utf16be'

export interface CsvOptions extends ProgressOptions {
  /** One one-byte character; default `','`. */
  delimiter?: string
  /** Default `'"'`. */
  quote?: string
  /** The decimal mark of numbers: `','` for European files (with `delimiter: ';'`); a `'.'` is then refused. Default `'.'`. */
  decimal?: string
  /** Default true; false names the columns `'0'`, `'1'`, ... */
  header?: boolean
  /** Physical lines skipped before the header. Default 0. */
  skipRows?: number
  /** At most this many data rows. */
  maxRows?: number
  /** Field texts read as missing. Default `['']`; `'pandas'` is pandas' default NA list (`PANDAS_NULL_VALUES`). */
  nullValues?: readonly string[] | 'pandas'
  /**
   * The columns to read: an array of names (in this order; types from `types` or inferred), or
   * `{ name: type }` to read and type them. Default: every column, in file order.
   */
  columns?: readonly string[] | Record<string, CsvColumnType>
  /** Types of some columns; the others are inferred. Not with `columns` as an object. */
  types?: Record<string, CsvColumnType>
  /** Rows with fewer fields get missing values and extra fields are ignored, instead of an error. */
  relaxColumnCount?: boolean
  /** The bytes' text encoding (not for a string input). Default `'utf-8'`. */
  encoding?: CsvEncoding
}

export interface ReadCsvOptions extends CsvOptions {
  /**
   * `'auto'` (default): gzip and zstd files are decompressed as they are read, recognised by
   * their first bytes, whatever their name; `'brotli'` (which has no such bytes) must be asked
   * for; `'none'` reads the bytes as they are.
   */
  compression?: 'auto' | 'none' | 'gzip' | 'zstd' | 'brotli'
}

/** pandas' default NA strings (`read_csv`'s `na_values`), for `nullValues: 'pandas'`. */
export const PANDAS_NULL_VALUES: readonly string[]

/** A `'category'` column: `codes[i]` indexes `values` (0xFFFFFFFF where missing). */
export interface CategoryColumn {
  codes: Uint32Array
  values: string[]
}

/**
 * A column: Float64Array (float64, date: epoch ms, NaN where missing), Float32Array,
 * Int32Array, Uint32Array, BigInt64Array (int64), Uint8Array (bool, 0/1), an Array of strings
 * (null where missing) or a CategoryColumn.
 */
export type CsvColumn = Float64Array | Float32Array | Int32Array | Uint32Array | BigInt64Array | Uint8Array | (string | null)[] | CategoryColumn

export interface CsvTable {
  /** Every column of the file, in order (repeated header names get `_2`, `_3`, ...). */
  names: string[]
  rows: number
  /** The columns read, by name. */
  columns: Record<string, CsvColumn>
  /** Each column's type, as asked or as inferred. */
  types: Record<string, CsvColumnType>
  /**
   * Whether some column's type was inferred, from the first 1,000 records (the same ones for
   * `parseCsv` and `readCsv`), per column over its values that are not missing: float64 when
   * every one reads as a number; date when every one is an ISO 8601 date (`YYYY-MM-DD`, with a
   * time or not); category when at most one value in 16 is new (and it stays a category while
   * the whole column has at most 65,536 values and one per 16 rows, else it is read as
   * strings); string otherwise.
   */
  inferred: boolean
}

/**
 * Parses CSV text (RFC 4180) into typed columns on every core. Numbers convert as `Number()`
 * converts the same text, int64 as `BigInt()`, dates as `Date.parse` reads ISO 8601.
 * A malformed file rejects with an Error whose `code` is `ERR_CSV_UNTERMINATED_QUOTE`,
 * `ERR_CSV_INVALID_QUOTE`, `ERR_CSV_COLUMN_COUNT`, `ERR_CSV_INVALID_VALUE`,
 * `ERR_CSV_MISSING_VALUE`, `ERR_CSV_INVALID_UTF8` or `ERR_CSV_INVALID_ENCODING`, with `line`,
 * `column` and `text`.
 * Progress: input bytes.
 */
export function parseCsv(input: string | Uint8Array, options?: CsvOptions): Promise<CsvTable>
/** `parseCsv` of a file, read in Rust (never into a JS string). Paths and fs errors as `hashFile`. */
export function readCsv(path: PathLike, options?: ReadCsvOptions): Promise<CsvTable>

/** The password hashing algorithms; argon2id is the one to choose for new hashes. */
export type PasswordAlgorithm = 'argon2id' | 'argon2i' | 'argon2d' | 'scrypt' | 'bcrypt'

/**
 * An algorithm and its costs. Defaults (OWASP Password Storage Cheat Sheet): argon2id with
 * `memoryCost` 19456 KiB, `timeCost` 2, `parallelism` 1; scrypt `N` 2^17, `r` 8, `p` 1;
 * bcrypt `cost` 12. `hashLength` (argon2, scrypt) defaults to 32 bytes. An option of another
 * algorithm than the one chosen is refused with `ERR_INVALID_ARG_VALUE`.
 */
export interface PasswordParams {
  /** Default `'argon2id'`. */
  algorithm?: PasswordAlgorithm
  /** argon2: memory in KiB, at least 8 * parallelism. */
  memoryCost?: number
  /** argon2: passes over the memory, at least 1. */
  timeCost?: number
  /** argon2: lanes, computed in parallel on offload's threads. */
  parallelism?: number
  /** scrypt: CPU/memory cost, a power of two (memory is 128 * N * r bytes per lane). */
  N?: number
  /** scrypt: block size. */
  r?: number
  /** scrypt: parallelism (lanes run on offload's threads). */
  p?: number
  /** bcrypt: log2 of the rounds, 4 to 31. */
  cost?: number
  /** argon2, scrypt: bytes of hash, 4 to 1024. Default 32. */
  hashLength?: number
}

export interface HashPasswordOptions extends PasswordParams, ProgressOptions {
  /** The salt; default 16 random bytes from the operating system (argon2, scrypt: 8 to 1024 bytes; bcrypt: exactly 16). */
  salt?: ArrayBufferView | ArrayBuffer
  /** argon2: a secret key (pepper) mixed into the hash and kept out of the database; verify needs it too. */
  secret?: ArrayBufferView | ArrayBuffer
  /** argon2: associated data, stored in the string as `data=`. At most 1024 bytes. */
  associatedData?: ArrayBufferView | ArrayBuffer
  /**
   * bcrypt: hash only the first 72 bytes of a longer password, as other bcrypt packages do
   * silently. Without it such a password rejects with `ERR_OUT_OF_RANGE`.
   */
  truncate?: boolean
}

/**
 * Hashes a password off the main thread and resolves to the string to store: PHC format for
 * argon2 (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) and scrypt
 * (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`), modular crypt format for bcrypt (`$2b$12$...`).
 * @param password A string (hashed as UTF-8) or bytes. NUL bytes are hashed like any other.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a cost outside its range (memoryCost below 8 *
 *   parallelism, timeCost 0, N not a power of two, cost outside 4-31), a salt shorter than 8
 *   bytes, or a bcrypt password over 72 bytes without `truncate`.
 * @example
 * const stored = await hashPassword('correct horse battery staple')
 * await verifyPassword(stored, 'correct horse battery staple')  // true
 */
export function hashPassword(password: string | ArrayBufferView | ArrayBuffer, options?: HashPasswordOptions): Promise<string>

export interface VerifyPasswordOptions extends ProgressOptions {
  /** The most memory, in bytes, a stored string may ask for. Default 256 MiB. */
  maxMemory?: number
  /** argon2: the most passes (`t`). Default 10. */
  maxTime?: number
  /** argon2's lanes and scrypt's `p`: the most. Default 16. */
  maxParallelism?: number
  /** bcrypt: the highest cost. Default 16. */
  maxBcryptCost?: number
  /** argon2: the secret the hash was made with (ignored for scrypt and bcrypt strings). */
  secret?: ArrayBufferView | ArrayBuffer
  /** bcrypt: compare only the first 72 bytes of a longer password (as `hashPassword`'s `truncate`). */
  truncate?: boolean
}

/**
 * Whether `password` matches the stored string (argon2id/argon2i/argon2d, scrypt, bcrypt
 * `$2a$`/`$2b$`/`$2y$`), comparing in constant time. The string's parameters are read and
 * bounded before any memory is taken.
 * @throws {TypeError} `ERR_PASSWORD_HASH_INVALID` when `encoded` is not a password hash (a
 *   malformed string is an error, never `false`).
 * @throws {RangeError} `ERR_PASSWORD_HASH_LIMIT` when the string asks for more than the limits.
 * @example
 * if (await verifyPassword(user.hash, body.password)) login(user)
 */
export function verifyPassword(
  encoded: string,
  password: string | ArrayBufferView | ArrayBuffer,
  options?: VerifyPasswordOptions,
): Promise<boolean>

/**
 * Whether `encoded` was made with another algorithm, version, cost parameters or hash length
 * than `params` (default: the defaults), or with a salt under 16 bytes; synchronous, hashes
 * nothing. Call it after a successful verify to upgrade stored hashes.
 * @throws {TypeError} `ERR_PASSWORD_HASH_INVALID` when `encoded` is not a password hash.
 * @example
 * if (await verifyPassword(user.hash, pw) && needsRehash(user.hash)) user.hash = await hashPassword(pw)
 */
export function needsRehash(encoded: string, params?: PasswordParams): boolean

/**
 * π(n): the number of primes <= n, by a segmented sieve over all cores (memory bounded by the
 * segment size and sqrt(n), not by n).
 * @param n A non-negative integer up to `Number.MAX_SAFE_INTEGER`, as a number or a bigint.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a negative, fractional or too large `n`.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for anything but a number or bigint.
 * @example
 * await countPrimes(1e9)  // 50847534
 */
export function countPrimes(n: number | bigint, options?: ProgressOptions): Promise<number>

/**
 * Every prime <= n, in order, for n up to 2 ** 32 - 1.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for `n` outside 0 .. 2 ** 32 - 1 or not an integer.
 * @example
 * await primes(30)  // Uint32Array [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
 */
export function primes(n: number | bigint, options?: ProgressOptions): Promise<Uint32Array>

/** A row-major matrix: `data[r * cols + c]` is row r, column c. */
export interface Matrix<T extends Float64Array | Float32Array = Float64Array | Float32Array> {
  data: T
  rows: number
  cols: number
}

/**
 * The product `a × b` of two row-major matrices of the same kind (`a.cols === b.rows`), on a
 * blocked, vectorised GEMM (the `faer` crate) over all cores.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` when `data.length !== rows * cols` or `a.cols !== b.rows`.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for data that is not a Float64Array or Float32Array;
 *   `ERR_INVALID_ARG_VALUE` when the two kinds differ.
 * @example
 * const c = await matmul({ data: new Float64Array([1, 2, 3, 4]), rows: 2, cols: 2 },
 *                        { data: new Float64Array([5, 6, 7, 8]), rows: 2, cols: 2 })
 * // { data: Float64Array [19, 22, 43, 50], rows: 2, cols: 2 }
 */
export function matmul<T extends Float64Array | Float32Array>(a: Matrix<T>, b: Matrix<T>, options?: ProgressOptions): Promise<Matrix<T>>

export interface TopKOptions extends ProgressOptions {
  /** `'cosine'` (default), `'dot'` or `'l2'` (squared Euclidean distance; smaller is nearer). */
  metric?: 'cosine' | 'dot' | 'l2'
}

export interface TopKResult<T extends Float64Array | Float32Array> {
  /** For each query in order, its `min(k, rows)` best rows, best first (ties: lower row first). */
  indices: Uint32Array
  /** Their scores, in the vectors' element type. NaN (a zero vector under cosine, NaN data) ranks last. */
  scores: T
}

/**
 * Exact nearest-neighbour search: the `k` best rows of `vectors` for each query. `queries` is
 * a matrix with the same `cols` and element type, or one typed array of length `cols`.
 * One query is a parallel scan of the matrix (memory-bound); many are a blocked matrix product
 * (`matmul`'s GEMM) with a partial selection per query. Progress: stored rows scored, over all
 * queries.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for mismatched shapes or `k` < 1.
 */
export function topK<T extends Float64Array | Float32Array>(vectors: Matrix<T>, queries: Matrix<T> | T, k: number, options?: TopKOptions): Promise<TopKResult<T>>

export interface MandelbrotOptions extends ProgressOptions {
  /** Pixels per row, an integer >= 1. */
  width: number
  /** Rows, an integer >= 1 (width * height at most 2 ** 31). */
  height: number
  /** The view's centre, real part. Default -0.5. */
  centerX?: number
  /** The view's centre, imaginary part. Default 0. */
  centerY?: number
  /** The width of the view in the complex plane, > 0. Default 3. */
  scale?: number
  /** Iterations before a point counts as inside the set, 1 to 2 ** 32 - 1. Default 1000. */
  maxIterations?: number
}

/**
 * Escape counts of the Mandelbrot iteration z = z² + c, row by row (`width * height` values).
 * Pixel (x, y) is c = centerX + (x + 0.5 - width / 2) * scale / width
 * + i (centerY - (y + 0.5 - height / 2) * scale / width); a point that has not escaped
 * (|z| > 2) after `maxIterations` gets `maxIterations`.
 * @example
 * const counts = await mandelbrot({ width: 800, height: 600, maxIterations: 500 })
 */
export function mandelbrot(options: MandelbrotOptions): Promise<Uint32Array>

/**
 * Raw pixels: `width * height` pixels of `channels` interleaved bytes, row-major. `channels` is
 * 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); when omitted it is
 * `data.length / (width * height)`, so a canvas `ImageData` works as it is.
 */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray
  width: number
  height: number
  channels?: 1 | 2 | 3 | 4
}

/** A result image: new pixels, never the input's. */
export interface ImageResult {
  data: Uint8Array
  width: number
  height: number
  channels: 1 | 2 | 3 | 4
}

/**
 * Luma from RGB with the Rec. 601 weights (0.299, 0.587, 0.114), exactly as Pillow's
 * `convert('L')` computes it; alpha is kept (RGBA gives gray + alpha), gray images come back
 * as they are.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for sizes that are not positive integers or a `data`
 *   of the wrong length (the message names both).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `data` is not a Uint8Array, Uint8ClampedArray or Buffer.
 */
export function grayscale(image: RawImage, options?: CallOptions): Promise<ImageResult>

export interface BlurOptions extends ProgressOptions {
  /** Standard deviation in pixels, in (0, 1000]. The kernel radius is ceil(3σ). */
  sigma: number
}

/**
 * Gaussian blur: separable, weights exp(-x²/2σ²) normalised to 1, edges clamped (the border
 * pixel repeats), every channel alike, rounded to nearest; within 1 of the exact result.
 * @example
 * const soft = await blur({ data, width, height, channels: 4 }, { sigma: 3 })
 */
export function blur(image: RawImage, options: BlurOptions): Promise<ImageResult>

export interface ResizeOptions extends ProgressOptions {
  /** New width in pixels; omit it (and give `height`) to keep the aspect ratio. */
  width?: number
  /** New height in pixels; omit it (and give `width`) to keep the aspect ratio. */
  height?: number
  /** Default `'lanczos3'`. `'bicubic'` is cubic convolution with a = -0.5, as Pillow's. */
  filter?: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3'
}

/**
 * Convolution resampling as Pillow and sharp do it (the filter widens with the scale factor
 * when shrinking); colour is resampled premultiplied by alpha, so transparent pixels leave no
 * dark fringe. Given one side, the other keeps the aspect ratio (rounded, at least 1).
 * @example
 * const half = await resize(image, { width: image.width / 2 })
 */
export function resize(image: RawImage, options: ResizeOptions): Promise<ImageResult>

export interface Settings {
  /** Threads in the rayon pool each call spreads over, 1 to 4 per usable core. Default: every usable core. */
  threads: number
  /**
   * Native calls running at once in the whole process (main thread and workers together; each
   * holds a libuv thread); the rest wait in their thread's FIFO queue. At most
   * `UV_THREADPOOL_SIZE` - 1, so one libuv thread stays free for `fs`, `dns`, `crypto` and
   * `zlib`. Default: `UV_THREADPOOL_SIZE` - 2, at least 1.
   */
  maxInFlight: number
  /** Calls that may wait in each thread's queue; past it calls reject with `ERR_OFFLOAD_QUEUE_FULL`. Default `Infinity`. */
  maxQueue: number
  /**
   * The largest single buffer (a result or a working buffer) one call may allocate, in bytes;
   * a call that needs more rejects with a RangeError, code `ERR_OUT_OF_MEMORY`, before it
   * allocates. Default: half the memory of the machine (or of its cgroup). `Infinity`: no limit.
   * One setting for the whole process, worker threads included.
   */
  maxAllocation: number
  /**
   * How many nice levels below the process the pool's threads run, 0 to 19 (piscina's option
   * of the same name). With every core busy, the event loop's thread then gets the CPU first
   * whenever it has work. Raising it re-prioritises the running threads; lowering it starts a
   * new pool (no privilege needed either way). Linux only (elsewhere accepted and without
   * effect). Default 10, chosen by measuring a server under load.
   */
  niceIncrement: number
}

/**
 * Changes the settings (any subset) and returns those in force. The settings are the
 * process's: a change made in one thread (main or worker) holds in every thread. Synchronous.
 * Resizing the pool does not disturb running calls: they finish on the pool they started with.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for `threads` outside 1 .. 4 per core, `maxInFlight`
 *   outside 1 .. `UV_THREADPOOL_SIZE` - 1, or a negative `maxQueue` or `maxAllocation`.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-number; `ERR_INVALID_ARG_VALUE` for an
 *   unknown option name.
 */
export function configure(options?: Partial<Settings>): Settings

export interface Stats extends Settings {
  /** This thread's native calls running now (an aborted call counts until its kernel has stopped). */
  running: number
  /** Native calls running now in the whole process, every thread counted (at most `maxInFlight`). */
  inFlight: number
  /** This thread's calls waiting for a slot. */
  queued: number
  /** This thread's calls resolved. */
  completed: number
  /** This thread's calls rejected with an error other than an abort, bad arguments included. */
  failed: number
  /** This thread's calls rejected because their signal aborted. */
  cancelled: number
}

/**
 * The settings in force and this thread's call counters since offload was loaded in it. Every
 * settled call is counted once, in exactly one of `completed`, `failed` and `cancelled`.
 */
export function stats(): Stats

/** The error an aborted call rejects with: `name` 'AbortError', `code` 'ABORT_ERR', `cause` the signal's reason. */
export class AbortError extends Error {
  readonly name: 'AbortError'
  readonly code: 'ABORT_ERR'
}
