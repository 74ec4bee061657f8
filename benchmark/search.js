'use strict'

// topK: exact search over embeddings. One query over 1,000,000 x 384 float32 (1.5 GB) against
// a plain-JS loop and the machine's memory read rate (measured here with a plain sum); 1,000
// queries over 100,000 x 384 against matmul's float32 GEMM rate on the same shapes.

const offload = require('..')
const { compare, header } = require('./harness.js')

const QUICK = process.env.BENCH_QUICK ? 10 : 1

function randomMatrix(rows, cols, seed) {
  const data = new Float32Array(rows * cols)
  let x = seed >>> 0 || 1
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    data[i] = x / 2 ** 32 - 0.5
  }
  return { data, rows, cols }
}

/** Plain JS: one query, dot products (cosine by norms), a running best-k by insertion. */
function jsTopK(vectors, query, k) {
  const { data, rows, cols } = vectors
  let qn = 0
  for (let c = 0; c < cols; c++) qn += query[c] * query[c]
  qn = Math.sqrt(qn)
  const best = []
  for (let r = 0; r < rows; r++) {
    let dot = 0
    let n = 0
    const base = r * cols
    for (let c = 0; c < cols; c++) {
      const v = data[base + c]
      dot += v * query[c]
      n += v * v
    }
    const s = dot / (Math.sqrt(n) * qn)
    if (best.length < k || s > best[best.length - 1][0]) {
      best.push([s, r])
      best.sort((a, b) => b[0] - a[0] || a[1] - b[1])
      if (best.length > k) best.pop()
    }
  }
  return best
}

async function main() {
  header('Exact search (topK)')
  const dims = 384
  const big = randomMatrix(1_000_000 / QUICK, dims, 1)
  const query = big.data.slice(7 * dims, 8 * dims)
  const bytes = big.data.byteLength
  const bandwidth = (ms) => `${(bytes / 1e9 / (ms / 1000)).toFixed(1)} GB/s (${ms.toFixed(0)} ms)`
  // The read rate of this machine, as a yardstick: the same bytes summed by offload.describe
  // on all cores (a pure streaming read).
  const asF64 = new Float64Array(big.data.buffer, 0, big.data.length / 2)
  const fresh = await compare(`one query, ${big.rows} x ${dims} float32 (${(bytes / 1e9).toFixed(2)} GB)`, [
    ['plain JS loop (main thread)', () => jsTopK(big, query, 10)],
    ['read rate: offload.describe over the same bytes', () => offload.describe(asF64)],
    ['offload.topK cosine, k = 10', () => offload.topK(big, query, 10)],
    ['offload.topK dot, k = 10', () => offload.topK(big, query, 10, { metric: 'dot' })],
  ], { reps: 3, unit: bandwidth })

  const stored = { data: big.data.subarray(0, (100_000 / QUICK) * dims), rows: 100_000 / QUICK, cols: dims }
  const queries = randomMatrix(1000, dims, 2)
  const flops = 2 * stored.rows * dims * queries.rows
  const gflops = (ms) => `${(flops / 1e9 / (ms / 1000)).toFixed(0)} GFLOPS (${ms.toFixed(0)} ms)`
  // matmul on the same shapes: queries (1000 x 384) times the stored vectors transposed.
  const transposed = { data: new Float32Array(dims * stored.rows), rows: dims, cols: stored.rows }
  for (let r = 0; r < stored.rows; r++) for (let c = 0; c < dims; c++) transposed.data[c * stored.rows + r] = stored.data[r * dims + c]
  await compare(`1,000 queries over ${stored.rows} x ${dims} float32`, [
    ['offload.matmul, the scores alone (GEMM rate)', () => offload.matmul(queries, transposed)],
    ['offload.topK dot, k = 10', () => offload.topK(stored, queries, 10, { metric: 'dot' })],
    ['offload.topK cosine, k = 10', () => offload.topK(stored, queries, 10)],
  ], { reps: 3, unit: gflops })

  // The same one-query scan now that matmul and the multi-query topK (faer's AVX-512 GEMM)
  // have run on the pool's threads: it ran 3x slower before the scan was compiled per
  // instruction set and the GEMM's threads cleaned their vector state (issue 24).
  const again = await compare('one query again, after matmul in this process', [
    ['offload.topK dot, k = 10, after matmul', () => offload.topK(big, query, 10, { metric: 'dot' })],
    ['offload.describe (read rate), after matmul', () => offload.describe(asF64)],
  ], { reps: 3, unit: bandwidth })
  const before = fresh.find((r) => r.label === 'offload.topK dot, k = 10')
  console.log(`\ntopK dot after matmul / fresh: ${(again[0].ms / before.ms).toFixed(2)}x (1.00x is no slowdown; it was about 3x)`)
}

module.exports = main
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1) })
