'use strict'

const assert = require('node:assert/strict')
const { describe: suite, it } = require('node:test')

const offload = require('..')
const { luma, rng } = require('./reference.js')

function randomImage(width, height, channels, seed, opaque = false) {
  const r = rng(seed)
  const data = new Uint8Array(width * height * channels)
  for (let i = 0; i < data.length; i++) data[i] = (r() * 256) | 0
  if (opaque && (channels === 2 || channels === 4)) for (let i = channels - 1; i < data.length; i += channels) data[i] = 255
  return { data, width, height, channels }
}

function within(actual, expected, tolerance, message) {
  assert.equal(actual.length, expected.length, message)
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tolerance) assert.fail(`${message}: [${i}] ${actual[i]} vs ${expected[i]}`)
  }
}

suite('grayscale', () => {
  it('matches the formula exactly for every channel count', async () => {
    for (const channels of [1, 2, 3, 4]) {
      const img = randomImage(37, 23, channels, channels)
      const out = await offload.grayscale(img)
      assert.equal(out.width, 37)
      assert.equal(out.height, 23)
      assert.equal(out.channels, { 1: 1, 2: 2, 3: 1, 4: 2 }[channels])
      const want = []
      for (let p = 0; p < 37 * 23; p++) {
        const px = img.data.subarray(p * channels, (p + 1) * channels)
        if (channels === 3) want.push(luma(px[0], px[1], px[2]))
        else if (channels === 4) want.push(luma(px[0], px[1], px[2]), px[3])
        else want.push(...px)
      }
      assert.deepEqual(Array.from(out.data), want, `${channels} channels`)
    }
  })

  it('every RGB colour gives Pillow\'s luma', async () => {
    const data = new Uint8Array(256 * 256 * 256 * 3)
    let i = 0
    for (let r = 0; r < 256; r++) for (let g = 0; g < 256; g++) for (let b = 0; b < 256; b++) data.set([r, g, b], (i++) * 3)
    const out = await offload.grayscale({ data, width: 4096, height: 4096, channels: 3 })
    i = 0
    for (let r = 0; r < 256; r++) {
      for (let g = 0; g < 256; g++) {
        for (let b = 0; b < 256; b++) if (out.data[i++] !== luma(r, g, b)) assert.fail(`${r},${g},${b}`)
      }
    }
  })

  it('takes an ImageData-like object without channels, and leaves the input alone', async () => {
    const img = randomImage(8, 5, 4, 9)
    const before = img.data.slice()
    const out = await offload.grayscale({ data: new Uint8ClampedArray(img.data.buffer), width: 8, height: 5 })
    assert.equal(out.channels, 2)
    assert.deepEqual(img.data, before)
    const buf = await offload.grayscale({ data: Buffer.from(img.data), width: 8, height: 5, channels: 4 })
    assert.deepEqual(buf.data, out.data)
  })
})

/** The blur as the issue defines it, in float64, then rounded. */
function blurReference({ data, width, height, channels }, sigma) {
  const r = Math.ceil(3 * sigma)
  const w = []
  for (let k = -r; k <= r; k++) w.push(Math.exp(-(k * k) / (2 * sigma * sigma)))
  const total = w.reduce((a, b) => a + b)
  const clamp = (v, hi) => (v < 0 ? 0 : v > hi ? hi : v)
  const h = new Float64Array(data.length)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        for (let k = -r; k <= r; k++) s += w[k + r] * data[(y * width + clamp(x + k, width - 1)) * channels + c]
        h[(y * width + x) * channels + c] = s / total
      }
    }
  }
  const out = new Uint8Array(data.length)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        for (let k = -r; k <= r; k++) s += w[k + r] * h[(clamp(y + k, height - 1) * width + x) * channels + c]
        out[(y * width + x) * channels + c] = Math.round(s / total)
      }
    }
  }
  return out
}

suite('blur', () => {
  it('is within 1 of the definition, for every channel count and odd shapes', async () => {
    const cases = [[31, 17, 4, 1.5], [40, 33, 3, 3], [1, 25, 1, 2], [25, 1, 2, 2], [12, 12, 4, 0.4], [9, 7, 3, 40]]
    for (const [w, h, c, sigma] of cases) {
      const img = randomImage(w, h, c, w * h + c)
      const out = await offload.blur(img, { sigma })
      assert.deepEqual([out.width, out.height, out.channels], [w, h, c])
      within(out.data, blurReference(img, sigma), 1, `${w}x${h}x${c} σ=${sigma}`)
    }
  })

  it('keeps a constant image constant, even with a radius wider than the image', async () => {
    for (const sigma of [0.5, 3, 200]) {
      const img = { data: new Uint8Array(20 * 10 * 3).fill(133), width: 20, height: 10, channels: 3 }
      const out = await offload.blur(img, { sigma })
      assert.ok(out.data.every((v) => v === 133), `σ=${sigma}`)
    }
  })

  it('stops a large blur on abort', async () => {
    const img = { data: new Uint8Array(4000 * 4000 * 4), width: 4000, height: 4000, channels: 4 }
    const controller = new AbortController()
    const pending = offload.blur(img, { sigma: 300, signal: controller.signal })
    setTimeout(() => controller.abort(), 20)
    await assert.rejects(pending, { name: 'AbortError' })
  })
})

/** Pillow's resampling filters and its coefficient computation, in plain JS. */
const FILTERS = {
  bilinear: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5
      x = Math.abs(x)
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a
      return 0
    },
  },
  lanczos3: {
    support: 3,
    f: (x) => {
      const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t))
      return Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0
    },
  },
}

function coefficients(inSize, outSize, { support, f }) {
  const scale = inSize / outSize
  const filterScale = Math.max(scale, 1)
  const reach = support * filterScale
  return Array.from({ length: outSize }, (_, xx) => {
    const center = (xx + 0.5) * scale
    const xmin = Math.max(Math.trunc(center - reach + 0.5), 0)
    const xmax = Math.min(Math.trunc(center + reach + 0.5), inSize)
    const w = []
    for (let x = xmin; x < xmax; x++) w.push(f((x - center + 0.5) / filterScale))
    const total = w.reduce((a, b) => a + b)
    return { xmin, w: w.map((v) => v / total) }
  })
}

/**
 * Separable convolution resampling, rounded to 8 bits between the passes. Vertical pass first,
 * as fast_image_resize does for 8-bit images (Pillow goes horizontal first; where a filter
 * rings hard enough to clip the intermediate the two orders can differ in a few pixels).
 */
function resizeReference({ data, width, height, channels }, dw, dh, filter) {
  const round8 = (v) => Math.min(255, Math.max(0, Math.round(v)))
  const hc = coefficients(width, dw, FILTERS[filter])
  const vc = coefficients(height, dh, FILTERS[filter])
  const tmp = new Uint8Array(width * dh * channels)
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        vc[y].w.forEach((wk, k) => (s += wk * data[((vc[y].xmin + k) * width + x) * channels + c]))
        tmp[(y * width + x) * channels + c] = round8(s)
      }
    }
  }
  const out = new Uint8Array(dw * dh * channels)
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        hc[x].w.forEach((wk, k) => (s += wk * tmp[(y * width + hc[x].xmin + k) * channels + c]))
        out[(y * dw + x) * channels + c] = round8(s)
      }
    }
  }
  return out
}

/** A smooth, photo-like opaque image: a few waves plus mild noise. */
function smoothImage(width, height, channels, seed) {
  const r = rng(seed)
  const waves = Array.from({ length: 3 * channels }, () => [r() * 0.9, r() * 0.9, r() * 6])
  const data = new Uint8Array(width * height * channels)
  const alpha = channels === 2 || channels === 4 ? channels - 1 : -1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let v = 128
        for (let k = 0; k < 3; k++) {
          const [fx, fy, ph] = waves[c * 3 + k]
          v += 38 * Math.sin(fx * x + fy * y + ph)
        }
        data[(y * width + x) * channels + c] = c === alpha ? 255 : Math.round(v + (r() - 0.5) * 12)
      }
    }
  }
  return { data, width, height, channels }
}

suite('resize', () => {
  it('matches reference resamplers within 1 on opaque images, up and down', async () => {
    for (const filter of ['bilinear', 'bicubic', 'lanczos3']) {
      for (const channels of [1, 2, 3, 4]) {
        const img = smoothImage(23, 17, channels, channels * 7)
        for (const [dw, dh] of [[11, 8], [7, 5], [40, 31], [23, 40], [3, 17], [64, 3]]) {
          const out = await offload.resize(img, { width: dw, height: dh, filter })
          assert.deepEqual([out.width, out.height, out.channels], [dw, dh, channels])
          within(out.data, resizeReference(img, dw, dh, filter), 1, `${filter} ${channels}ch ${dw}x${dh}`)
        }
      }
    }
  })

  it('stays within 2 of the reference even on pure noise, the worst case for ringing', async () => {
    for (const filter of ['bilinear', 'bicubic', 'lanczos3']) {
      for (const channels of [1, 4]) {
        const img = randomImage(23, 17, channels, channels * 11, true)
        for (const [dw, dh] of [[11, 8], [40, 31], [5, 29]]) {
          const out = await offload.resize(img, { width: dw, height: dh, filter })
          within(out.data, resizeReference(img, dw, dh, filter), 2, `${filter} ${channels}ch ${dw}x${dh}`)
        }
      }
    }
  })

  it('nearest picks a source pixel for every output pixel', async () => {
    const img = randomImage(10, 6, 3, 5)
    const out = await offload.resize(img, { width: 25, height: 4, filter: 'nearest' })
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 25; x++) {
        const sx = Math.floor(((x + 0.5) * 10) / 25)
        const sy = Math.floor(((y + 0.5) * 6) / 4)
        const got = Array.from(out.data.subarray((y * 25 + x) * 3, (y * 25 + x) * 3 + 3))
        assert.deepEqual(got, Array.from(img.data.subarray((sy * 10 + sx) * 3, (sy * 10 + sx) * 3 + 3)), `${x},${y}`)
      }
    }
  })

  it('keeps the aspect ratio when one side is given, and resizes a 1x1 source', async () => {
    const img = randomImage(40, 30, 4, 3)
    assert.deepEqual(await offload.resize(img, { width: 20 }).then((o) => [o.width, o.height]), [20, 15])
    assert.deepEqual(await offload.resize(img, { height: 7 }).then((o) => [o.width, o.height]), [9, 7])
    assert.deepEqual(await offload.resize(img, { width: 1 }).then((o) => [o.width, o.height]), [1, 1])
    const dot = { data: new Uint8Array([10, 200, 30]), width: 1, height: 1, channels: 3 }
    const big = await offload.resize(dot, { width: 5, height: 3 })
    for (let i = 0; i < 15; i++) assert.equal(big.data[i * 3 + 1], 200)
  })

  it('resamples premultiplied: transparent pixels leave no dark fringe', async () => {
    // opaque white on the left, transparent black on the right
    const w = 16
    const data = new Uint8Array(w * w * 4)
    for (let y = 0; y < w; y++) for (let x = 0; x < w / 2; x++) data.set([255, 255, 255, 255], (y * w + x) * 4)
    for (const filter of ['bilinear', 'bicubic', 'lanczos3']) {
      for (const size of [5, 11, 37]) {
        const out = await offload.resize({ data, width: w, height: w, channels: 4 }, { width: size, height: size, filter })
        for (let i = 0; i < out.data.length; i += 4) {
          if (out.data[i + 3] > 16) assert.ok(out.data[i] >= 245, `${filter} ${size}: pixel ${i / 4} rgb ${out.data[i]} alpha ${out.data[i + 3]}`)
        }
      }
    }
  })
})

suite('image errors', () => {
  const rgb = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 }
  const cases = [
    [() => offload.grayscale(null), 'ERR_INVALID_ARG_TYPE'],
    [() => offload.grayscale({ ...rgb, data: new Uint16Array(12) }), 'ERR_INVALID_ARG_TYPE'],
    [() => offload.grayscale({ ...rgb, data: [1, 2, 3] }), 'ERR_INVALID_ARG_TYPE'],
    [() => offload.grayscale({ ...rgb, width: 0 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, width: 1.5 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, height: -2 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, channels: 5 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, data: new Uint8Array(11) }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ data: new Uint8Array(10), width: 2, height: 2 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, width: 2 ** 31, height: 2 ** 31 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.grayscale({ ...rgb, width: 65536, height: 65536 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.blur(rgb), 'ERR_INVALID_ARG_TYPE'],
    [() => offload.blur(rgb, { sigma: 0 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.blur(rgb, { sigma: 1001 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.blur(rgb, { sigma: NaN }), 'ERR_OUT_OF_RANGE'],
    [() => offload.resize(rgb, {}), 'ERR_INVALID_ARG_TYPE'],
    [() => offload.resize(rgb, { width: 0 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.resize(rgb, { width: 2.5 }), 'ERR_OUT_OF_RANGE'],
    [() => offload.resize(rgb, { width: 2, filter: 'cubic' }), 'ERR_INVALID_ARG_VALUE'],
    [() => offload.resize(rgb, { width: 2 ** 30, height: 2 ** 30 }), 'ERR_OUT_OF_RANGE'],
  ]
  for (const [call, code] of cases) {
    it(`${code} for ${call.toString().slice(6)}`, async () => {
      let p
      assert.doesNotThrow(() => {
        p = call()
      })
      await assert.rejects(p, (e) => e.code === code && (e instanceof TypeError || e instanceof RangeError))
    })
  }
})
