'use strict'

// Renders the Mandelbrot set with offload and writes it as a PNG (no image library needed:
// PNG is a few zlib-compressed rows). `node examples/mandelbrot.js [file] [width] [height]`

const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

const { mandelbrot } = require('..')

/** A PNG file of RGB pixels. */
function encodePng(width, height, rgb) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0)
    return Buffer.concat([head, data, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bits per channel
  header[9] = 2 // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    rows[y * (width * 3 + 1)] = 0 // no filter
    rgb.copy(rows, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** Escape counts to colours: black inside the set, a smooth blue-gold ramp outside. */
function colorize(counts, maxIterations) {
  const rgb = Buffer.alloc(counts.length * 3)
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]
    if (c >= maxIterations) continue
    const t = Math.sqrt(c / maxIterations)
    rgb[3 * i] = Math.round(255 * Math.min(1, 2.2 * t))
    rgb[3 * i + 1] = Math.round(255 * Math.min(1, 1.4 * t * t + 0.25 * t))
    rgb[3 * i + 2] = Math.round(255 * Math.min(1, 0.35 + 0.9 * t) * (1 - 0.6 * t))
  }
  return rgb
}

async function render(file = path.join(__dirname, 'mandelbrot.png'), width = 1200, height = 800) {
  const view = { width, height, centerX: -0.65, centerY: 0, scale: 3.2, maxIterations: 1000 }
  const t0 = performance.now()
  const counts = await mandelbrot(view)
  const ms = performance.now() - t0
  fs.writeFileSync(file, encodePng(width, height, colorize(counts, view.maxIterations)))
  return { file, ms, view }
}

module.exports = { encodePng, render }

if (require.main === module) {
  const [file, width, height] = process.argv.slice(2)
  render(file, width && Number(width), height && Number(height)).then(({ file: out, ms, view }) =>
    console.log(`${view.width}x${view.height}, ${view.maxIterations} iterations: ${ms.toFixed(0)} ms -> ${out}`),
  )
}
