// Compiled by types.test.js with `tsc --noEmit --strict`: every export used as documented,
// and wrong uses that the declarations must reject (each `@ts-expect-error` must be needed).
import * as offload from '../..'
import { AbortError, type Description, type HashOptions, type HistogramOptions, type ImageResult, type Matrix, type Progress, type Settings, type Stats } from '../..'

async function main(): Promise<void> {
  const signal = AbortSignal.timeout(1000)
  const f64 = new Float64Array([3, 1, 2])
  const sorted: Float64Array = await offload.sort(f64, { descending: true, inPlace: false, signal })
  const i32: Int32Array = await offload.sort(new Int32Array(4))
  const big: BigInt64Array = await offload.sort(new BigInt64Array(2))
  const order: Uint32Array = await offload.argsort(new Uint8Array(3), { descending: false })
  const d: Description = await offload.describe(f64, { ddof: 1 })
  const mean: number = d.mean + d.stddev + d.count + d.nanCount
  const qs: Float64Array = await offload.quantiles(f64, [0.25, 0.5], { signal })
  const qs2: Float64Array = await offload.quantiles(f64, new Float64Array([0.9]))
  const h = await offload.histogram(f64, { bins: 4, range: [0, 10] })
  const counts: Float64Array = h.counts
  const hex: string = await offload.hash('text')
  const buf: Buffer = await offload.hash(new Uint8Array(4), { algorithm: 'sha256', encoding: 'buffer' })
  const many: string[] = await offload.hashMany(['a', Buffer.from('b'), new ArrayBuffer(2)], { algorithm: 'xxh3-64' })
  const file: string = await offload.hashFile(new URL('file:///etc/hostname'), { encoding: 'base64' })
  const files: Buffer[] = await offload.hashFiles(['/etc/hostname', Buffer.from('/etc/hosts')], { encoding: 'buffer' })
  const packed: Buffer = await offload.compress('text', { format: 'zstd', level: 3, signal, onProgress: (p: Progress) => p.done })
  const unpacked: Buffer = await offload.decompress(packed, { format: 'auto', maxOutputLength: 1e6 })
  const written: number = await offload.compressFile('/tmp/a', new URL('file:///tmp/a.gz'), { level: 9 })
  await offload.decompressFile('/tmp/a.gz', '/tmp/a', { maxOutputLength: 1e9 })
  const gzip: import('node:stream').Transform = offload.createCompressStream({ format: 'brotli', signal })
  const gunzip = offload.createDecompressStream({ format: 'gzip', highWaterMark: 1 << 20 })
  const bodyDigest: Buffer = await offload.hashStream(gunzip, { algorithm: 'sha256', encoding: 'buffer' })
  // @ts-expect-error: not a format
  await offload.compress('x', { format: 'lz4' })
  // @ts-expect-error: streams take no onProgress
  offload.createCompressStream({ onProgress: () => {} })
  void [unpacked, written, gzip, bodyDigest]
  const table = await offload.parseCsv('a,b\n1,x\n', { columns: { a: 'float64', b: 'category' }, signal })
  const colA = table.columns.a as Float64Array
  const typeOfB: offload.CsvColumnType = table.types.b
  const fromFile: offload.CsvTable = await offload.readCsv(new URL('file:///tmp/x.csv'), { delimiter: ';', header: false, maxRows: 10, onProgress: (p: Progress) => p.total })
  // @ts-expect-error: not a column type
  await offload.parseCsv('a', { columns: { a: 'decimal' } })
  void [colA, typeOfB, fromFile]
  const partial = await offload.readCsv('x.csv.gz', { columns: ['a', 'b'], types: { a: 'category' }, encoding: 'latin1', decimal: ',', nullValues: 'pandas', compression: 'auto' })
  // @ts-expect-error: parseCsv takes no compression
  await offload.parseCsv('a', { compression: 'gzip' })
  const grouped = await offload.groupBy(partial.columns.a as offload.CategoryColumn, { b: new Float64Array(1) }, { aggregations: ['mean', 'std'], quantiles: [0.99], signal })
  const routes: string[] = grouped.keys
  const p99: Float64Array | undefined = grouped.columns.b.quantiles?.[0]
  const byStatus = await offload.groupBy(new Int32Array(3), new Float32Array(3))
  const statuses: Int32Array = byStatus.keys
  // @ts-expect-error: not an aggregation
  await offload.groupBy(new Int32Array(1), new Float64Array(1), { aggregations: ['median'] })
  const naStrings: readonly string[] = offload.PANDAS_NULL_VALUES
  await offload.parseCsv('a\nNA', { nullValues: [...naStrings] })
  void [routes, p99, statuses]
  const nearest = await offload.topK({ data: new Float32Array(6), rows: 2, cols: 3 }, new Float32Array(3), 1, { metric: 'l2', signal })
  const nearestScores: Float32Array = nearest.scores
  // @ts-expect-error: not a metric
  await offload.topK({ data: new Float32Array(6), rows: 2, cols: 3 }, new Float32Array(3), 1, { metric: 'hamming' })
  void nearestScores
  const n: number = await offload.countPrimes(10n ** 6n, { signal })
  const ps: Uint32Array = await offload.primes(100)
  const a: Matrix<Float32Array> = { data: new Float32Array(4), rows: 2, cols: 2 }
  const product: Matrix<Float32Array> = await offload.matmul(a, a)
  const counts2: Uint32Array = await offload.mandelbrot({ width: 8, height: 8, maxIterations: 50, centerX: -0.5, centerY: 0, scale: 3 })
  const image = { data: new Uint8ClampedArray(16), width: 2, height: 2, channels: 4 as const }
  const gray: ImageResult = await offload.grayscale(image)
  const blurred: ImageResult = await offload.blur(image, { sigma: 1.5 })
  const small: ImageResult = await offload.resize(image, { width: 1, filter: 'bilinear' })
  const channels: 1 | 2 | 3 | 4 = small.channels
  const settings: Settings = offload.configure({ threads: 2, maxInFlight: 1, maxQueue: Infinity, maxAllocation: 2 ** 30 })
  const nice: number = offload.configure({ niceIncrement: 10 }).niceIncrement
  const report = (p: Progress): void => void (p.done / p.total + nice)
  await offload.sort(new Float64Array(2), { onProgress: report, progressInterval: 50 })
  await offload.hashFile('x', { algorithm: 'sha256', onProgress: ({ done, total }) => void (done + total) })
  await offload.countPrimes(100, { onProgress: report })
  const stats: Stats = offload.stats()
  const running: number = stats.running + stats.queued + stats.completed + stats.failed + stats.cancelled + settings.maxAllocation + stats.inFlight
  // A Buffer in, a Buffer out; in place, the very array.
  const bytes: Buffer = await offload.sort(Buffer.from([3, 1, 2]))
  const hexOfSorted: string = bytes.toString('hex')
  const same: Float32Array = await offload.sort(new Float32Array(2), { inPlace: true })
  // Options written as variables of the exported types.
  const hashOptions: HashOptions = { algorithm: 'sha256' }
  const digest: string = await offload.hash('x', hashOptions)
  const bufferOptions: HashOptions<'buffer'> = { encoding: 'buffer' }
  const digestBytes: Buffer = await offload.hash('x', bufferOptions)
  const range: number[] = [0, 10]
  const histogramOptions: HistogramOptions = { bins: 4, range }
  const h2 = await offload.histogram(f64, { range })
  const h3 = await offload.histogram(f64, histogramOptions)
  void [bytes, hexOfSorted, same, digest, digestBytes, h2, h3]
  try {
    await offload.sort(f64, { signal: AbortSignal.abort() })
  } catch (e) {
    if (e instanceof AbortError) {
      const code: 'ABORT_ERR' = e.code
      const name: 'AbortError' = e.name
      void code, name
    }
  }
  void [sorted, i32, big, order, mean, qs, qs2, counts, hex, buf, many, file, files, n, ps, product, counts2, gray, blurred, channels, running]

  // Wrong uses the declarations catch:
  // @ts-expect-error a plain array is not a typed array
  await offload.sort([3, 1, 2])
  // @ts-expect-error sort keeps the input's kind
  const wrongKind: Float32Array = await offload.sort(new Float64Array(1))
  // @ts-expect-error unknown hash algorithm
  await offload.hash('x', { algorithm: 'md5' })
  // @ts-expect-error a hex digest is a string, not a Buffer
  const notBuffer: Buffer = await offload.hash('x')
  const stored: string = await offload.hashPassword('pw', { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2, parallelism: 1, signal })
  const scrypt: string = await offload.hashPassword(new Uint8Array(3), { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: new Uint8Array(16) })
  const ok: boolean = await offload.verifyPassword(stored, 'pw', { maxMemory: 2 ** 28, maxTime: 4, secret: Buffer.from('pepper'), onProgress: report })
  const again: boolean = offload.needsRehash(scrypt, { algorithm: 'bcrypt', cost: 12 })
  void [ok, again]
  // @ts-expect-error unknown password algorithm
  await offload.hashPassword('pw', { algorithm: 'md5' })
  // @ts-expect-error needsRehash is synchronous
  const notAPromise: Promise<boolean> = offload.needsRehash(stored)
  void notAPromise
  // @ts-expect-error mandelbrot needs width and height
  await offload.mandelbrot({ width: 10 })
  // @ts-expect-error blur needs a sigma
  await offload.blur(image, {})
  // @ts-expect-error matrices of different kinds
  await offload.matmul({ data: new Float64Array(1), rows: 1, cols: 1 }, { data: new Float32Array(1), rows: 1, cols: 1 })
  // @ts-expect-error a signal is an AbortSignal
  await offload.describe(f64, { signal: true })
  // @ts-expect-error resize filter names are fixed
  await offload.resize(image, { width: 1, filter: 'cubic' })
  // @ts-expect-error configure takes numbers
  offload.configure({ threads: '2' })
  // @ts-expect-error countPrimes takes a number or bigint
  await offload.countPrimes('10')
  // @ts-expect-error describe takes no progress callback
  await offload.describe(new Float64Array(2), { onProgress: report })
  // @ts-expect-error a sorted Uint8Array is not a Buffer
  const notABuffer: Buffer = await offload.sort(new Uint8Array(2))
  // @ts-expect-error a string digest's options do not give a Buffer
  const stringDigest: Buffer = await offload.hash('x', hashOptions)
  void [wrongKind, notBuffer, notABuffer, stringDigest]
}

void main
