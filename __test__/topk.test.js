'use strict'

// topK against an independent float64 brute force in plain JS, for every metric and the edge
// cases (k = 1, k = rows, k > rows, ties, zero vectors, NaN, one row, one column).

const assert = require('node:assert/strict')
const { describe: suite, it } = require('node:test')

const offload = require('..')
const { rng } = require('./reference.js')

/** Plain-JS exact search: scores in float64, best first, ties to the lower row, NaN last. */
function reference(vectors, queries, k, metric) {
  const { data, rows, cols } = vectors
  const out = []
  for (let q = 0; q < queries.rows; q++) {
    const qv = queries.data.subarray(q * cols, (q + 1) * cols)
    const hits = []
    for (let r = 0; r < rows; r++) {
      let dot = 0, na = 0, nb = 0, l2 = 0
      for (let c = 0; c < cols; c++) {
        const a = data[r * cols + c], b = qv[c]
        dot += a * b; na += a * a; nb += b * b; l2 += (a - b) * (a - b)
      }
      const s = metric === 'dot' ? dot : metric === 'l2' ? l2 : (na === 0 || nb === 0 ? NaN : dot / Math.sqrt(na * nb))
      hits.push([s, r])
    }
    hits.sort((x, y) => {
      const xn = Number.isNaN(x[0]), yn = Number.isNaN(y[0])
      if (xn !== yn) return xn ? 1 : -1
      if (!xn && x[0] !== y[0]) return metric === 'l2' ? x[0] - y[0] : y[0] - x[0]
      return x[1] - y[1]
    })
    out.push(hits.slice(0, Math.min(k, rows)))
  }
  return out
}

function randomMatrix(rows, cols, seed, Kind = Float32Array, integers = false) {
  const random = rng(seed)
  const data = new Kind(rows * cols)
  for (let i = 0; i < data.length; i++) data[i] = integers ? Math.round(random() * 16 - 8) : random() * 2 - 1
  return { data, rows, cols }
}

suite('topK', () => {
  it('matches a float64 reference for every metric, one query and many (exact on integer data)', async () => {
    for (const Kind of [Float64Array, Float32Array]) {
      const vectors = randomMatrix(2000, 24, 1, Kind, true)
      const queries = randomMatrix(12, 24, 2, Kind, true)
      for (const metric of ['dot', 'l2', 'cosine']) {
        for (const q of [queries, { data: queries.data.subarray(0, 24), rows: 1, cols: 24 }]) {
          const got = await offload.topK(vectors, q, 10, { metric })
          assert.ok(got.scores instanceof Kind)
          assert.ok(got.indices instanceof Uint32Array)
          const want = reference(vectors, q, 10, metric)
          want.forEach((hits, qi) => {
            hits.forEach(([s, r], i) => {
              const at = qi * 10 + i
              if (metric === 'cosine') {
                assert.ok(Math.abs(got.scores[at] - s) < 1e-5, `${metric} ${Kind.name}: score ${got.scores[at]} vs ${s}`)
              } else {
                assert.equal(got.indices[at], r, `${metric} ${Kind.name} query ${qi} rank ${i}`)
                assert.equal(got.scores[at], s)
              }
            })
          })
        }
      }
    }
  })

  it('random real-valued data: the same rows as the reference, scores within rounding', async () => {
    const vectors = randomMatrix(5000, 64, 3, Float64Array)
    const queries = randomMatrix(8, 64, 4, Float64Array)
    for (const metric of ['cosine', 'dot', 'l2']) {
      const got = await offload.topK(vectors, queries, 5, { metric })
      reference(vectors, queries, 5, metric).forEach((hits, qi) => hits.forEach(([s, r], i) => {
        assert.equal(got.indices[qi * 5 + i], r, `${metric} ${qi} ${i}`)
        assert.ok(Math.abs(got.scores[qi * 5 + i] - s) <= 1e-9 * Math.max(1, Math.abs(s)))
      }))
    }
  })

  it('a single query may be a typed array; k = 1, k = rows and k > rows', async () => {
    const vectors = randomMatrix(50, 3, 5, Float64Array, true)
    const query = new Float64Array([1, -2, 3])
    const one = await offload.topK(vectors, query, 1, { metric: 'l2' })
    assert.equal(one.indices.length, 1)
    const all = await offload.topK(vectors, query, 50, { metric: 'dot' })
    const more = await offload.topK(vectors, query, 500, { metric: 'dot' })
    assert.deepEqual(more.indices, all.indices)
    assert.equal(all.indices.length, 50)
    assert.deepEqual(Array.from(all.indices).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i))
  })

  it('ties go to the lower row; zero vectors and NaN rank last under cosine', async () => {
    const data = new Float32Array([1, 0, /* dup */ 1, 0, /* zero */ 0, 0, /* NaN */ NaN, 1, 0.5, 0.5])
    const r = await offload.topK({ data, rows: 5, cols: 2 }, new Float32Array([1, 0]), 5)
    assert.deepEqual(Array.from(r.indices), [0, 1, 4, 2, 3])
    assert.ok(Number.isNaN(r.scores[3]) && Number.isNaN(r.scores[4]))
    const zeroQuery = await offload.topK({ data, rows: 5, cols: 2 }, new Float32Array([0, 0]), 2)
    assert.deepEqual(Array.from(zeroQuery.indices), [0, 1]) // every score NaN: row order
    const oneRow = await offload.topK({ data: new Float64Array([2, 2]), rows: 1, cols: 2 }, new Float64Array([1, 1]), 3, { metric: 'dot' })
    assert.deepEqual([Array.from(oneRow.indices), Array.from(oneRow.scores)], [[0], [4]])
    const oneCol = await offload.topK({ data: new Float64Array([3, -1, 2]), rows: 3, cols: 1 }, new Float64Array([1]), 2, { metric: 'l2' })
    assert.deepEqual(Array.from(oneCol.indices), [2, 0]) // distances 4, 4, 1: row 2, then the tie 0 before 1
  })

  it('bad shapes, kinds and k fail like matmul', async () => {
    const vectors = { data: new Float32Array(6), rows: 2, cols: 3 }
    await assert.rejects(offload.topK(vectors, new Float32Array(2), 1), { code: 'ERR_OUT_OF_RANGE', message: /queries\.length/ })
    await assert.rejects(offload.topK(vectors, new Float64Array(3), 1), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.topK(vectors, new Float32Array(3), 0), { code: 'ERR_OUT_OF_RANGE', message: /"k"/ })
    await assert.rejects(offload.topK(vectors, new Float32Array(3), 1, { metric: 'euclid' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.topK({ data: new Float32Array(5), rows: 2, cols: 3 }, new Float32Array(3), 1), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.topK({ data: new Int32Array(6), rows: 2, cols: 3 }, new Float32Array(3), 1), { code: 'ERR_INVALID_ARG_TYPE' })
  })

  it('an abort in the middle of a large search rejects with AbortError', async () => {
    const vectors = randomMatrix(400_000, 128, 6, Float32Array)
    const queries = randomMatrix(64, 128, 7, Float32Array)
    const controller = new AbortController()
    const call = offload.topK(vectors, queries, 10, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 30)
    await assert.rejects(call, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'stop')
    while (offload.stats().running > 0) await new Promise((r) => setTimeout(r, 1))
  })
})
