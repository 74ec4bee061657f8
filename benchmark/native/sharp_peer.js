// sharp (libvips) peer for `npm run bench:native`: Gaussian blur of a raw RGBA frame, median ms.
//   node sharp_peer.js WIDTH HEIGHT SIGMA RUNS OPAQUE(0|1)
// Random pixels from a fixed seed; opaque frames have alpha 255 everywhere. concurrency() is
// set to the machine's cores, as offload uses them.
'use strict'
const os = require('node:os')
const sharp = require('sharp')

async function main () {
  const [width, height, sigma, runs, opaque] = process.argv.slice(2).map(Number)
  sharp.concurrency(os.availableParallelism())
  sharp.cache(false)
  const pixels = Buffer.alloc(width * height * 4)
  let x = 3n
  for (let i = 0; i < pixels.length; i += 8) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn
    pixels.writeBigUInt64LE(x, i)
  }
  if (opaque) for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255
  const blur = () => sharp(pixels, { raw: { width, height, channels: 4 } }).blur(sigma).raw().toBuffer()
  await blur()
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    await blur()
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  times.sort((a, b) => a - b)
  console.log(times[times.length >> 1].toFixed(3))
}
main().catch((e) => { console.error(e); process.exit(1) })
