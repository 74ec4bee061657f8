'use strict'

// Images: offload against sharp (libvips; raw input, concurrency set to this machine's cores),
// jimp (pure JS) and a plain JS loop where one is simple enough, on a 3840x2160 RGBA frame.

const os = require('node:os')
const sharp = require('sharp')
const { Jimp, ResizeStrategy } = require('jimp')

const offload = require('..')
const { compare, header } = require('./harness.js')

const QUICK = Boolean(process.env.BENCH_QUICK)

/** A photo-like RGBA frame: smooth gradients and waves, a little noise, opaque. */
function frame(width, height) {
  const data = Buffer.alloc(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4
      data[i] = 128 + 100 * Math.sin(x / 97) * Math.cos(y / 53)
      data[i + 1] = (x * 255) / width
      data[i + 2] = (y * 255) / height
      data[i + 3] = 255
    }
  }
  for (let i = 0; i < data.length; i += 7) data[i] ^= 3
  return data
}

async function main() {
  const cores = os.availableParallelism()
  sharp.concurrency(cores)
  sharp.cache(false)
  header('Images')
  console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), concurrency(${cores}); jimp runs on the main thread\n`)

  const [width, height] = QUICK ? [1920, 1080] : [3840, 2160]
  const data = frame(width, height)
  const image = { data, width, height, channels: 4 }
  const raw = { raw: { width, height, channels: 4 } }
  const jimpImage = Jimp.fromBitmap({ data, width, height })
  const size = `${width}x${height} RGBA`

  const rate = (ms) => `${(data.length / 1e9 / (ms / 1000)).toFixed(2)} GB/s (${ms.toFixed(1)} ms)`
  await compare(`grayscale ${size}`, [
    ['plain JS loop (main thread)', () => {
      const out = Buffer.alloc(width * height * 2)
      for (let p = 0, o = 0; p < data.length; p += 4, o += 2) {
        out[o] = (data[p] * 19595 + data[p + 1] * 38470 + data[p + 2] * 7471 + 0x8000) >> 16
        out[o + 1] = data[p + 3]
      }
      return out
    }],
    ['sharp greyscale (raw in, raw out)', () => sharp(data, raw).greyscale().raw().toBuffer()],
    ['jimp greyscale (main thread)', () => jimpImage.clone().greyscale()],
    ['offload.grayscale', () => offload.grayscale(image)],
  ], { reps: 5, unit: rate })

  await compare(`blur ${size}, sigma 3`, [
    ['jimp blur(9) (box approximation, main thread)', QUICK ? null : () => jimpImage.clone().blur(9)],
    ['sharp blur(3) (default: integer approximation)', () => sharp(data, raw).blur(3).raw().toBuffer()],
    ['sharp blur(3), precision float', () => sharp(data, raw).blur({ sigma: 3, precision: 'float' }).raw().toBuffer()],
    ['offload.blur (float32, within 1 of exact)', () => offload.blur(image, { sigma: 3 })],
  ], { reps: 5 })

  const [dw, dh] = [width / 2, height / 2]
  await compare(`resize ${size} to ${dw}x${dh}`, [
    ['jimp resize, bicubic (main thread)', () => jimpImage.clone().resize({ w: dw, h: dh, mode: ResizeStrategy.BICUBIC })],
    ['sharp resize, lanczos3', () => sharp(data, raw).resize(dw, dh, { kernel: 'lanczos3' }).raw().toBuffer()],
    ['offload.resize, lanczos3', () => offload.resize(image, { width: dw, height: dh })],
    ['offload.resize, bicubic', () => offload.resize(image, { width: dw, height: dh, filter: 'bicubic' })],
  ], { reps: 5 })
}

module.exports = main
if (require.main === module) main()
