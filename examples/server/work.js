'use strict'

// The three kinds of work the example server does per request, written once in plain
// JavaScript. The server runs them on its main thread (MODE=plain) or in a piscina pool
// (MODE=piscina, this file is the worker); MODE=offload uses offload's operations instead.

const crypto = require('node:crypto')

/** count, mean, min, max and standard deviation of a Float64Array, one pass. */
function stats(values) {
  let sum = 0
  let sq = 0
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < values.length; i++) {
    const x = values[i]
    sum += x
    sq += x * x
    if (x < min) min = x
    if (x > max) max = x
  }
  const n = values.length
  const mean = sum / n
  return { count: n, mean, min, max, stddev: Math.sqrt(Math.max(0, sq / n - mean * mean)) }
}

/** SHA-256 of the body, hex (node:crypto: native code, but on the thread that calls it). */
function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex')
}

/** Box-filter downscale of an RGBA frame by an integer factor (what a thumbnailer does). */
function shrink(data, width, height, factor) {
  const w = Math.floor(width / factor)
  const h = Math.floor(height / factor)
  const out = new Uint8Array(w * h * 4)
  const area = factor * factor
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 4; c++) {
        let s = 0
        for (let dy = 0; dy < factor; dy++) {
          let p = ((y * factor + dy) * width + x * factor) * 4 + c
          for (let dx = 0; dx < factor; dx++, p += 4) s += data[p]
        }
        out[(y * w + x) * 4 + c] = Math.round(s / area)
      }
    }
  }
  return { data: out, width: w, height: h }
}

/** The piscina worker: the same functions, inputs in shared memory or transferred. */
module.exports = ({ kind, buffer, width, height, factor }) => {
  if (kind === 'stats') return stats(new Float64Array(buffer))
  if (kind === 'hash') return sha256(new Uint8Array(buffer))
  if (kind === 'resize') return shrink(new Uint8Array(buffer), width, height, factor).data.byteLength
  throw new Error(`unknown kind ${kind}`)
}
Object.assign(module.exports, { sha256, shrink, stats })
