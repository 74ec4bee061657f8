'use strict'

// The plain-JavaScript way for the algorithms, as a careful Node developer would write it.

/** π(n) with an odd-only sieve over a Uint8Array (n up to about 2e9 fits in memory). */
function countPrimes(n) {
  if (n < 2) return 0
  const half = Math.floor((n - 1) / 2) // bit i stands for 2i + 1
  const composite = new Uint8Array(half + 1)
  let count = 1 // 2
  for (let i = 1; i <= half; i++) {
    if (composite[i]) continue
    count++
    const p = 2 * i + 1
    for (let j = (p * p - 1) / 2; j <= half; j += p) composite[j] = 1
  }
  return count
}

/** Row-major a (m x k) times b (k x n), i-k-j order (cache-friendly). */
function matmul(a, b, m, k, n) {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const s = a[i * k + p]
      const row = p * n
      const out = i * n
      for (let j = 0; j < n; j++) c[out + j] += s * b[row + j]
    }
  }
  return c
}

/** Escape counts for rows [from, to) of a view. */
function mandelbrot({ width, height, centerX = -0.5, centerY = 0, scale = 3, maxIterations = 1000 }, from = 0, to = height) {
  const out = new Uint32Array(width * (to - from))
  for (let y = from; y < to; y++) {
    const cy = centerY - ((y + 0.5 - height / 2) * scale) / width
    for (let x = 0; x < width; x++) {
      const cx = centerX + ((x + 0.5 - width / 2) * scale) / width
      let zx = 0
      let zy = 0
      let i = 0
      while (i < maxIterations) {
        const x2 = zx * zx
        const y2 = zy * zy
        if (x2 + y2 > 4) break
        zy = 2 * zx * zy + cy
        zx = x2 - y2 + cx
        i++
      }
      out[(y - from) * width + x] = i
    }
  }
  return out
}

module.exports = { countPrimes, mandelbrot, matmul }
