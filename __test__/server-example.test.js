'use strict'

// examples/server/server.js answers the same in every MODE (plain, piscina, offload), against
// independent references, and stops cleanly on SIGTERM. (`npm run demo:server` measures it.)

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { describe, it } = require('node:test')

const { start } = require('../examples/server/load.js')

/** The statistics /stats reports, from the same formula for the server's data, in plain JS. */
function expectedStats() {
  const n = 4_000_000
  let sum = 0
  let min = Infinity
  let max = -Infinity
  const values = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const x = Math.sin(i) * 1000 + (i % 977)
    values[i] = x
    sum += x
    min = Math.min(min, x)
    max = Math.max(max, x)
  }
  const mean = sum / n
  let dev = 0
  for (let i = 0; i < n; i++) dev += (values[i] - mean) ** 2
  return { count: n, mean, min, max, stddev: Math.sqrt(dev / n) }
}

describe('examples/server', () => {
  const stats = expectedStats()
  const body = crypto.randomBytes(3 << 20)
  const digest = crypto.createHash('sha256').update(body).digest('hex')

  for (const mode of ['plain', 'piscina', 'offload']) {
    it(`MODE=${mode}: every endpoint answers correctly, SIGTERM exits cleanly`, async () => {
      const { child, url } = await start(mode)
      try {
        assert.equal(await (await fetch(`${url}/ping`)).text(), 'pong')
        const s = await (await fetch(`${url}/stats`)).json()
        assert.equal(s.count, stats.count)
        assert.equal(s.min, stats.min)
        assert.equal(s.max, stats.max)
        assert.ok(Math.abs(s.mean - stats.mean) < 1e-9 * Math.abs(stats.mean), `${s.mean} vs ${stats.mean}`)
        assert.ok(Math.abs(s.stddev - stats.stddev) < 1e-6 * stats.stddev, `${s.stddev} vs ${stats.stddev}`)
        assert.equal(await (await fetch(`${url}/hash`, { method: 'POST', body })).text(), digest)
        assert.deepEqual(await (await fetch(`${url}/resize`)).json(), { bytes: 480 * 270 * 4 })
        const loop = await (await fetch(`${url}/event-loop`)).json()
        for (const k of ['p50', 'p99', 'max']) assert.equal(typeof loop[k], 'number')
        // /export: the same bytes in every encoding the client asks for, decoded by node:zlib.
        const zlib = require('node:zlib')
        const plainBody = Buffer.from(await (await fetch(`${url}/export`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer())
        assert.equal(plainBody.length, 8 << 20)
        const http = require('node:http')
        for (const [asked, decode] of [['gzip', zlib.gunzipSync], ['br', zlib.brotliDecompressSync], ['gzip;q=0.5, br;q=0', zlib.gunzipSync]]) {
          const raw = await new Promise((resolve, reject) => {
            http.get(`${url}/export`, { headers: { 'accept-encoding': asked } }, (res) => {
              const chunks = []
              res.on('data', (c) => chunks.push(c))
              res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }))
            }).on('error', reject)
          })
          assert.equal(raw.encoding, asked.startsWith('br') ? 'br' : 'gzip', asked)
          assert.ok(decode(raw.body).equals(plainBody), `${mode} ${asked}`)
        }
        assert.equal((await fetch(`${url}/nothing`)).status, 404)
      } finally {
        child.kill('SIGTERM')
      }
      const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))
      assert.deepEqual([code, signal], [0, null])
    })
  }

  for (const passwords of ['offload', '@node-rs/argon2', 'argon2', 'bcryptjs']) {
    it(`PASSWORDS=${passwords}: signup, login, wrong password, unknown user, bad bodies`, async () => {
      const { child, url } = await start('offload', { PASSWORDS: passwords })
      const post = async (path, body) => {
        const res = await fetch(`${url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) })
        return res.status
      }
      try {
        const ada = { user: 'ada', password: 'correct horse battery staple' }
        assert.equal(await post('/signup', ada), 201)
        assert.equal(await post('/signup', ada), 409)
        assert.equal(await post('/login', ada), 200)
        assert.equal(await post('/login', { ...ada, password: 'Correct horse battery staple' }), 401)
        assert.equal(await post('/login', { user: 'bob', password: 'x' }), 401)
        assert.equal(await post('/login', 'not json'), 400)
        assert.equal(await post('/login', { user: 'ada' }), 400)
        assert.equal(await post('/login', JSON.stringify({ user: 'ada', password: 'x'.repeat(5000) })), 413)
        const logins = await Promise.all(Array.from({ length: 8 }, () => post('/login', ada)))
        assert.deepEqual(logins, Array(8).fill(200))
        const loop = await (await fetch(`${url}/event-loop`)).json()
        assert.equal(typeof loop.readFileP99, 'number')
      } finally {
        child.kill('SIGTERM')
      }
      const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))
      assert.deepEqual([code, signal], [0, null])
    })
  }
})
