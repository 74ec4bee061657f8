'use strict'

// Image processing on raw pixels: an image is { data, width, height, channels }, data a
// Uint8Array, Uint8ClampedArray or Buffer of width * height * channels bytes, row-major,
// channels interleaved (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA). An ImageData works as it is.

const native = require('./native.js')
const { invalidType, invalidValue, outOfRange, withCode } = require('./errors.js')
const { LIMITS } = require('./inline.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const FILTERS = ['nearest', 'bilinear', 'bicubic', 'lanczos3']
const MAX_SIDE = 2 ** 31 - 1
const MAX_PIXELS = 2 ** 31

const SIGNATURES = [
  ['PNG', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG', [0xff, 0xd8, 0xff]],
  ['GIF', [0x47, 0x49, 0x46, 0x38]],
  ['WebP', [0x52, 0x49, 0x46, 0x46]],
  ['TIFF', [0x49, 0x49, 0x2a, 0x00]],
  ['TIFF', [0x4d, 0x4d, 0x00, 0x2a]],
]

/** Bytes given where an image object belongs: most often an encoded file. Says what to do. */
function bytesInsteadOfImage(bytes, name) {
  let head = new Uint8Array(0)
  try {
    const { buffer, byteOffset, byteLength } = ArrayBuffer.isView(bytes) ? v.partsOf(bytes) : { buffer: bytes, byteOffset: 0, byteLength: bytes.byteLength }
    head = new Uint8Array(buffer, byteOffset, Math.min(4, byteLength))
  } catch {} // detached: no bytes to look at
  const format = SIGNATURES.find(([, magic]) => magic.every((b, i) => head[i] === b))?.[0]
  const what = format === undefined ? 'a byte array' : `an encoded ${format} file`
  return withCode(
    new TypeError(
      `The "${name}" argument must be raw pixels { data, width, height, channels }, but it is ${what}. ` +
        'Decode it first, for example with sharp: ' +
        'const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true }), then pass ' +
        '{ data, width: info.width, height: info.height, channels: info.channels }.',
    ),
    'ERR_INVALID_ARG_TYPE',
  )
}

/** The image's parts, checked, with data as a Uint8Array view of the same bytes. */
function imageOf(image, name = 'image') {
  if (ArrayBuffer.isView(image) || image instanceof ArrayBuffer) throw bytesInsteadOfImage(image, name)
  if (image === null || typeof image !== 'object') throw invalidType(name, 'an object { data, width, height, channels }', image)
  const { data, width, height } = image
  const kind = v.typedArrayKind(data)
  if (kind !== 'Uint8Array' && kind !== 'Uint8ClampedArray') {
    throw invalidType(`${name}.data`, 'an instance of Uint8Array, Uint8ClampedArray or Buffer', data)
  }
  const { buffer, byteOffset, byteLength } = v.heldView(data, `${name}.data`)
  v.integer(width, `${name}.width`, 1, MAX_SIDE)
  v.integer(height, `${name}.height`, 1, MAX_SIDE)
  const pixels = width * height // exact: both < 2^31
  let channels = image.channels
  if (channels === undefined) {
    channels = byteLength / pixels
    if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
      throw outOfRange(
        `${name}.data.length`,
        `width * height * channels with channels 1 to 4 (width * height = ${pixels}), or give ${name}.channels`,
        byteLength,
      )
    }
  } else {
    v.integer(channels, `${name}.channels`, 1, 4)
  }
  if (pixels * channels !== byteLength) {
    throw outOfRange(`${name}.data.length`, `${name}.width * ${name}.height * ${name}.channels = ${pixels * channels}`, byteLength)
  }
  return { bytes: new Uint8Array(buffer, byteOffset, byteLength), width, height, channels }
}

const grayscale = operation('grayscale', (image, options) => {
  const img = imageOf(image)
  const signal = v.signal(v.options(options, 'options', ['signal']).signal)
  const inline = img.width * img.height <= LIMITS.grayscale
  return { signal, inline, start: (token) => native.grayscale(img.bytes, img.width, img.height, img.channels, token) }
})

const blur = operation('blur', (image, options) => {
  const img = imageOf(image)
  const opts = v.options(options, 'options', ['sigma', 'signal', ...v.PROGRESS_OPTIONS])
  const sigma = v.number(opts.sigma, 'options.sigma')
  if (!(sigma > 0 && sigma <= 1000)) throw outOfRange('options.sigma', '> 0 and <= 1000', sigma)
  const signal = v.signal(opts.signal)
  return { signal, progress: v.progress(opts), start: (token) => native.blur(img.bytes, img.width, img.height, img.channels, sigma, token) }
})

const resize = operation('resize', (image, options) => {
  const img = imageOf(image)
  const opts = v.options(options, 'options', ['width', 'height', 'filter', 'signal', ...v.PROGRESS_OPTIONS])
  let { width, height } = opts
  if (width === undefined && height === undefined) {
    throw invalidType('options.width', 'of type number (give width, height or both)', undefined)
  }
  if (width !== undefined) v.integer(width, 'options.width', 1, MAX_SIDE)
  if (height !== undefined) v.integer(height, 'options.height', 1, MAX_SIDE)
  // One side given: the other keeps the aspect ratio (rounded, at least 1).
  if (height === undefined) height = Math.max(1, Math.round((img.height * width) / img.width))
  if (width === undefined) width = Math.max(1, Math.round((img.width * height) / img.height))
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw outOfRange('options.width * options.height', `at most ${MAX_PIXELS} pixels`, width * height)
  }
  if (width * height * img.channels > v.MAX_RESULT_LENGTH) {
    throw outOfRange(
      'options.width * options.height * channels',
      `at most ${v.MAX_RESULT_LENGTH} bytes (the longest typed array)`,
      width * height * img.channels,
    )
  }
  const filter = opts.filter === undefined ? 'lanczos3' : opts.filter
  if (typeof filter !== 'string') throw invalidType('options.filter', 'of type string', filter)
  if (!FILTERS.includes(filter)) throw invalidValue('options.filter', filter, `must be one of ${FILTERS.join(', ')}`)
  const signal = v.signal(opts.signal)
  const inline = img.width * img.height <= LIMITS.resize && width * height <= LIMITS.resize
  return {
    signal,
    progress: v.progress(opts),
    inline,
    start: (token) => native.resize(img.bytes, img.width, img.height, img.channels, width, height, filter, token),
  }
})

module.exports = { blur, grayscale, resize }
