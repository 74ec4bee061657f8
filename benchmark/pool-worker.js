'use strict'

// The piscina worker: runs the plain-JS way on (a part of) a Float64Array that lives in a
// SharedArrayBuffer, so the pool is measured at its best (no copy of the input).

const plain = require('./plain.js')

module.exports = ({ op, buffer, start, end, probs, edges }) => {
  const values = new Float64Array(buffer)
  switch (op) {
    case 'sort':
      return plain.sort(values.subarray(start, end))
    case 'describe':
      return plain.describe(values, start, end)
    case 'range':
      return plain.finiteRange(values, start, end)
    case 'count':
      return plain.countBins(values, edges, start, end)
    case 'quantiles':
      return plain.quantiles(values.subarray(start, end), probs)
    case 'noop':
      return 0
    default:
      throw new Error(`unknown op ${op}`)
  }
}

/** Hashes byte ranges of a SharedArrayBuffer with node:crypto, one digest per range. */
module.exports.hashRanges = ({ buffer, ranges, algorithm }) => {
  const crypto = require('node:crypto')
  const bytes = new Uint8Array(buffer)
  return ranges.map(([start, end]) => crypto.createHash(algorithm).update(bytes.subarray(start, end)).digest('hex'))
}

/** Rows [from, to) of a Mandelbrot view, with the plain-JS escape loop. */
module.exports.mandelbrotRows = ({ view, from, to }) => require('./plain-algo.js').mandelbrot(view, from, to)

/** gzip of byte ranges of a SharedArrayBuffer with node:zlib, one member per range. */
module.exports.gzipRanges = ({ buffer, ranges, level }) => {
  const zlib = require('node:zlib')
  const bytes = new Uint8Array(buffer)
  return ranges.map(([start, end]) => zlib.gzipSync(bytes.subarray(start, end), { level }))
}
