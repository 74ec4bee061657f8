'use strict'

// Decode with sharp, process raw pixels with offload, encode with sharp.
// `node examples/sharp-roundtrip.js input.jpg output.png` (sharp is a dev dependency of this
// repository, not of offload).

const sharp = require('sharp')
const { blur, resize } = require('..')

async function main(input, output) {
  const { data, info } = await sharp(input).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  const image = { data, width: info.width, height: info.height, channels: info.channels }
  const small = await resize(image, { width: Math.max(1, Math.round(info.width / 2)) })
  const soft = await blur(small, { sigma: 2 })
  await sharp(soft.data, { raw: { width: soft.width, height: soft.height, channels: soft.channels } }).png().toFile(output)
  console.log(`${info.width}x${info.height} -> ${soft.width}x${soft.height}, blurred: ${output}`)
}

const [input, output] = process.argv.slice(2)
if (!input || !output) {
  console.error('usage: node examples/sharp-roundtrip.js input output.png')
  process.exit(2)
}
main(input, output)
