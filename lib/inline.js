'use strict'

// Tiny inputs run on the calling thread: a hop to a libuv thread and back (40-90 us on these
// machines) costs more than the work. Each limit keeps the inline work to about 30 us at most,
// measured call by call (see docs/contracts.md, "Tiny inputs"). Results and errors are the same
// either way; only the thread differs.
//
// Operations whose kernels split even a tiny input into parallel pieces (quantiles, primes,
// mandelbrot, blur, hashMany of several inputs) always take the thread hop: rayon work started
// from a thread outside the pool waits for the pool, which costs as much as the hop.

const LIMITS = {
  /** Elements. */
  sort: 1024,
  argsort: 1024,
  describe: 8192,
  histogram: 4096,
  /** Bytes, per algorithm (SHA-2 runs at 1-2 GB/s, BLAKE3 and xxh3 several times faster). */
  hash: { blake3: 32768, sha256: 8192, sha512: 4096, 'xxh3-64': 65536, 'xxh3-128': 65536 },
  /** rows * inner * cols multiply-adds. */
  matmul: 32768,
  /** Pixels. */
  grayscale: 4096,
  /** Source pixels and result pixels, each. */
  resize: 1024,
}

module.exports = { LIMITS }
