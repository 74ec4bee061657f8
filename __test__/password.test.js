'use strict'

// Password hashing: known answers (RFC 9106, RFC 7914 through node:crypto), hashes made by the
// packages users have (argon2, @node-rs/argon2, bcrypt, bcryptjs, @node-rs/bcrypt) in both
// directions, bounded verification of hostile strings, bcrypt's 72-byte rule, needsRehash,
// errors and aborts.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { describe: suite, it } = require('node:test')
const fc = require('fast-check')

/**
 * A peer package. Under emulation (`npm run test:arm64`, node_modules installed for x64) a peer
 * whose native binary is not there is left out and its tests are skipped; anywhere else a
 * missing peer is an error.
 */
function peer(name) {
  try {
    return require(name)
  } catch (error) {
    if (process.env.OFFLOAD_NODE_WRAP) return undefined
    throw error
  }
}
const argon2 = peer('argon2')
const nodeRsArgon2 = peer('@node-rs/argon2')
const bcrypt = peer('bcrypt')
const bcryptjs = require('bcryptjs')
const nodeRsBcrypt = peer('@node-rs/bcrypt')
/** The test options that skip a test when one of its peers could not be loaded. */
const needs = (peers) => {
  const missing = Object.entries(peers).filter(([, p]) => !p).map(([n]) => n)
  return missing.length ? { skip: `${missing.join(', ')} not installed for this platform` } : {}
}

const offload = require('..')
const { hashPassword, verifyPassword, needsRehash } = offload

const PASSWORDS = ['', 'hunter2', 'pässwörd 🔑 ünïcödé', 'x'.repeat(72), 'correct horse battery staple']
/** Another password of the same length (so that a 72-byte one stays within bcrypt's limit). */
const wrong = (password) => (password.startsWith('W') ? 'V' : 'W') + password.slice(1)
/** The hash field of a PHC string, decoded. */
const hashField = (encoded) => Buffer.from(encoded.split('$').at(-1), 'base64')
const saltField = (encoded) => Buffer.from(encoded.split('$').at(-2), 'base64')

async function rejectsWith(promise, code, name) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.code, code, `${error.code}: ${error.message}`)
    if (name) assert.equal(error.name, name)
    return true
  })
}

suite('password: known answers', () => {
  it('argon2d, argon2i and argon2id give RFC 9106 section 5 tags (secret and associated data)', async () => {
    const expected = {
      argon2d: '512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb',
      argon2i: 'c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8',
      argon2id: '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659',
    }
    for (const [algorithm, tag] of Object.entries(expected)) {
      const encoded = await hashPassword(Buffer.alloc(32, 1), {
        algorithm,
        memoryCost: 32,
        timeCost: 3,
        parallelism: 4,
        salt: Buffer.alloc(16, 2),
        secret: Buffer.alloc(8, 3),
        associatedData: Buffer.alloc(12, 4),
      })
      assert.match(encoded, new RegExp(`^\\$${algorithm}\\$v=19\\$m=32,t=3,p=4,data=BAQEBAQEBAQEBAQE\\$AgICAgICAgICAgICAgICAg\\$`))
      assert.equal(hashField(encoded).toString('hex'), tag, algorithm)
      assert.equal(await verifyPassword(encoded, Buffer.alloc(32, 1), { secret: Buffer.alloc(8, 3) }), true)
      // without the secret (or with another) it does not verify
      assert.equal(await verifyPassword(encoded, Buffer.alloc(32, 1)), false)
      assert.equal(await verifyPassword(encoded, Buffer.alloc(32, 1), { secret: Buffer.alloc(8, 4) }), false)
    }
  })

  it('scrypt equals node:crypto.scrypt for the same salt and parameters (RFC 7914 section 12 and random cases)', async () => {
    const cases = [
      { password: 'password', salt: 'NaCl', N: 1024, r: 8, p: 16, keylen: 64 },
      { password: 'pleaseletmein', salt: 'SodiumChloride', N: 16384, r: 8, p: 1, keylen: 64 },
    ]
    const random = fc.sample(
      fc.record({
        password: fc.string({ maxLength: 40 }),
        salt: fc.uint8Array({ minLength: 8, maxLength: 40 }),
        N: fc.constantFrom(2, 4, 16, 256, 1024),
        r: fc.integer({ min: 1, max: 9 }),
        p: fc.integer({ min: 1, max: 3 }),
        keylen: fc.integer({ min: 4, max: 100 }),
      }),
      { numRuns: 20, seed: 7 },
    )
    for (const c of [...cases, ...random]) {
      const salt = Buffer.from(c.salt)
      if (salt.length < 8) continue
      const encoded = await hashPassword(c.password, { algorithm: 'scrypt', N: c.N, r: c.r, p: c.p, salt, hashLength: c.keylen })
      assert.match(encoded, new RegExp(`^\\$scrypt\\$ln=${Math.log2(c.N)},r=${c.r},p=${c.p}\\$`))
      const expected = crypto.scryptSync(c.password, salt, c.keylen, { N: c.N, r: c.r, p: c.p, maxmem: 2 ** 30 })
      assert.deepEqual(hashField(encoded), expected, JSON.stringify(c))
      assert.deepEqual(saltField(encoded), salt)
      assert.equal(await verifyPassword(encoded, c.password), true)
    }
    // The RFC's first vector has an empty salt, which offload refuses (salts are 8+ bytes);
    // its answer is checked by the Rust unit tests instead.
  })

  it('the defaults are OWASP\'s and salts are 16 random bytes', async () => {
    const a = await hashPassword('pw')
    const b = await hashPassword('pw')
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.notEqual(a, b)
    assert.notDeepEqual(saltField(a), saltField(b))
    assert.match(await hashPassword('pw', { algorithm: 'scrypt' }), /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.match(await hashPassword('pw', { algorithm: 'bcrypt' }), /^\$2b\$12\$[./A-Za-z0-9]{53}$/)
  })
})

suite('password: interoperability with the packages users have', () => {
  const argon2Types = { argon2d: argon2?.argon2d, argon2i: argon2?.argon2i, argon2id: argon2?.argon2id }
  const nodeRsAlgorithms = { argon2d: 0, argon2i: 1, argon2id: 2 }
  const argon2Sets = [
    { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2, parallelism: 1 },
    { algorithm: 'argon2id', memoryCost: 1024, timeCost: 3, parallelism: 4 },
    { algorithm: 'argon2i', memoryCost: 2048, timeCost: 1, parallelism: 2 },
    { algorithm: 'argon2d', memoryCost: 64, timeCost: 5, parallelism: 1 },
  ]

  it('argon2 (node-argon2 0.44) hashes verify, and offload\'s verify with it', needs({ argon2 }), async () => {
    for (const set of argon2Sets) {
      for (const password of PASSWORDS) {
        const options = { type: argon2Types[set.algorithm], memoryCost: set.memoryCost, timeCost: set.timeCost, parallelism: set.parallelism }
        const theirs = await argon2.hash(password, options)
        assert.equal(await verifyPassword(theirs, password), true, theirs)
        assert.equal(await verifyPassword(theirs, wrong(password)), false, theirs)
        const ours = await hashPassword(password, set)
        assert.equal(await argon2.verify(ours, password), true, ours)
        assert.equal(await argon2.verify(ours, wrong(password)), false, ours)
      }
    }
    // a long password, and a secret (node-argon2's `secret` is argon2's K)
    const long = 'ä'.repeat(500)
    const secret = Buffer.from('pepper-pepper')
    const theirs = await argon2.hash(long, { secret })
    assert.equal(await verifyPassword(theirs, long, { secret }), true)
    assert.equal(await argon2.verify(await hashPassword(long, { secret }), long, { secret }), true)
  })

  it('@node-rs/argon2 hashes verify, and offload\'s verify with it', needs({ '@node-rs/argon2': nodeRsArgon2 }), async () => {
    for (const set of argon2Sets) {
      for (const password of PASSWORDS) {
        const theirs = await nodeRsArgon2.hash(password, {
          algorithm: nodeRsAlgorithms[set.algorithm],
          memoryCost: set.memoryCost,
          timeCost: set.timeCost,
          parallelism: set.parallelism,
        })
        assert.equal(await verifyPassword(theirs, password), true, theirs)
        assert.equal(await verifyPassword(theirs, wrong(password)), false, theirs)
        const ours = await hashPassword(password, set)
        assert.equal(await nodeRsArgon2.verify(ours, password), true, ours)
        assert.equal(await nodeRsArgon2.verify(ours, wrong(password)), false, ours)
      }
    }
  })

  const bcryptPeers = {
    bcrypt: bcrypt && { hash: (pw, cost) => bcrypt.hash(pw, cost), verify: (hash, pw) => bcrypt.compare(pw, hash) },
    bcryptjs: { hash: (pw, cost) => bcryptjs.hash(pw, cost), verify: (hash, pw) => bcryptjs.compare(pw, hash) },
    '@node-rs/bcrypt': nodeRsBcrypt && { hash: (pw, cost) => nodeRsBcrypt.hash(pw, cost), verify: (hash, pw) => nodeRsBcrypt.verify(pw, hash) },
  }
  for (const [name, peer] of Object.entries(bcryptPeers)) {
    it(`${name} hashes verify, and offload's verify with it`, needs({ [name]: peer }), async () => {
      for (const cost of [4, 6]) {
        for (const password of PASSWORDS) {
          const theirs = await peer.hash(password, cost)
          assert.equal(await verifyPassword(theirs, password), true, theirs)
          assert.equal(await verifyPassword(theirs, wrong(password)), false, theirs)
          const ours = await hashPassword(password, { algorithm: 'bcrypt', cost })
          assert.equal(await peer.verify(ours, password), true, ours)
          assert.equal(await peer.verify(ours, wrong(password)), false, ours)
        }
      }
      // Past 72 bytes the peers hash the first 72 silently; offload agrees only when told to.
      const long = `${'y'.repeat(72)} and the rest is ignored`
      const theirs = await peer.hash(long, 4)
      await rejectsWith(verifyPassword(theirs, long), 'ERR_OUT_OF_RANGE', 'RangeError')
      assert.equal(await verifyPassword(theirs, long, { truncate: true }), true)
      const ours = await hashPassword(long, { algorithm: 'bcrypt', cost: 4, truncate: true })
      assert.equal(await peer.verify(ours, long), true)
    })
  }

  it('accepts $2a$, $2b$ and $2y$', needs({ bcrypt, '@node-rs/bcrypt': nodeRsBcrypt }), async () => {
    const a = await bcrypt.hash('pw', await bcrypt.genSalt(4, 'a'))
    assert.match(a, /^\$2a\$04\$/)
    assert.equal(await verifyPassword(a, 'pw'), true)
    const y = (await nodeRsBcrypt.hash('pw', 4, undefined)).replace(/^\$2b\$/, '$2y$')
    assert.equal(await verifyPassword(y, 'pw'), true)
    assert.equal(await verifyPassword(y, 'pW'), false)
    const ours = await hashPassword('pw', { algorithm: 'bcrypt', cost: 4 })
    assert.equal(await bcrypt.compare('pw', ours.replace(/^\$2b\$/, '$2a$')), true)
  })

  it('hashes NUL bytes instead of cutting the password there', async () => {
    const withNul = await hashPassword('a\0b', { algorithm: 'bcrypt', cost: 4 })
    assert.equal(await verifyPassword(withNul, 'a\0b'), true)
    assert.equal(await verifyPassword(withNul, 'a'), false)
    // bcryptjs also hashes the NUL: it agrees
    assert.equal(await bcryptjs.compare('a\0b', withNul), true)
    const argon = await hashPassword(Buffer.from([0, 0, 1]))
    assert.equal(await verifyPassword(argon, Buffer.from([0, 0])), false)
    assert.equal(await verifyPassword(argon, new Uint8Array([0, 0, 1])), true)
  })
})

suite('password: stored strings are untrusted', () => {
  const big = [
    ['$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxMemory'],
    ['$argon2id$v=19$m=262148,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxMemory'],
    ['$argon2id$v=19$m=4096,t=4294967295,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxTime'],
    ['$argon2id$v=19$m=65536,t=1,p=255$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxParallelism'],
    ['$scrypt$ln=40,r=8,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxMemory'],
    ['$scrypt$ln=10,r=8,p=17$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'maxParallelism'],
    ['$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', 'maxBcryptCost'],
  ]
  it('refuses parameters past the bounds before taking memory, and the bounds are configurable', async () => {
    const before = process.memoryUsage().rss
    for (const [encoded, option] of big) {
      await assert.rejects(verifyPassword(encoded, 'pw'), (error) => {
        assert.equal(error.code, 'ERR_PASSWORD_HASH_LIMIT')
        assert.ok(error instanceof RangeError)
        assert.match(error.message, new RegExp(option))
        return true
      })
    }
    // A process that had allocated 4 TiB, 1 TiB of scrypt or 16 GiB of lanes would show it.
    assert.ok(process.memoryUsage().rss - before < 64 * 2 ** 20)
    // Raised bounds let a larger (but real) hash through.
    const stored = await hashPassword('pw', { memoryCost: 4096, timeCost: 12, parallelism: 2 })
    await rejectsWith(verifyPassword(stored, 'pw'), 'ERR_PASSWORD_HASH_LIMIT')
    assert.equal(await verifyPassword(stored, 'pw', { maxTime: 12 }), true)
    await rejectsWith(verifyPassword(stored, 'pw', { maxTime: 12, maxMemory: 4096 * 1024 - 1 }), 'ERR_PASSWORD_HASH_LIMIT')
    await rejectsWith(verifyPassword(stored, 'pw', { maxTime: 12, maxParallelism: 1 }), 'ERR_PASSWORD_HASH_LIMIT')
  })

  it('rejects malformed strings with a coded error that is not `false`', async () => {
    for (const encoded of [
      '',
      'password',
      '$argon2id$',
      '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ',
      '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$',
      '$argon2id$v=19$m=19456,t=2,p=1$c2$aGFzaGhhc2g',
      '$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g',
      '$argon2id$v=20$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g',
      '$scrypt$ln=17,r=8,p=1$c29tZXNhbHQ$!!!',
      '$2b$12$tooshort',
      '$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e',
      '$1$saltsalt$hash',
      `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(20000)}$aGFzaGhhc2g`,
    ]) {
      await assert.rejects(verifyPassword(encoded, 'pw'), (error) => {
        assert.equal(error.code, 'ERR_PASSWORD_HASH_INVALID', encoded.slice(0, 60))
        assert.ok(error instanceof TypeError)
        assert.ok(!error.message.includes('c29tZXNhbHQ'), 'the stored string is not echoed')
        return true
      })
    }
  })

  it('fuzz: random and mutated strings never crash, never verify a wrong password, only coded errors', async () => {
    const good = [
      await hashPassword('right', { memoryCost: 64, timeCost: 1 }),
      await hashPassword('right', { algorithm: 'argon2i', memoryCost: 64, timeCost: 1, parallelism: 2 }),
      await hashPassword('right', { algorithm: 'scrypt', N: 16, r: 2 }),
      await hashPassword('right', { algorithm: 'bcrypt', cost: 4 }),
    ]
    const alphabet = '$,=0123456789abcdefvmtplnrAZaz+/.'
    const mutated = fc
      .tuple(fc.constantFrom(...good), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 4 }))
      .map(([text, edits]) => {
        let s = text
        for (const [at, pick, kind] of edits) {
          const i = at % (s.length + 1)
          const c = alphabet[pick % alphabet.length]
          if (kind === 0) s = s.slice(0, i) + c + s.slice(i + 1)
          else if (kind === 1) s = s.slice(0, i) + s.slice(i + 1)
          else s = s.slice(0, i) + c + s.slice(i)
        }
        return s
      })
    const allowed = new Set(['ERR_PASSWORD_HASH_INVALID', 'ERR_PASSWORD_HASH_LIMIT'])
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 80 })), async (encoded) => {
        try {
          // tight bounds keep every accepted string cheap to hash
          const ok = await verifyPassword(encoded, 'wrong', { maxMemory: 2 ** 20, maxTime: 4, maxBcryptCost: 6 })
          assert.equal(ok, false, encoded)
        } catch (error) {
          assert.ok(allowed.has(error.code), `${error.code}: ${error.message} for ${encoded}`)
        }
      }),
      { numRuns: 400, seed: 21 },
    )
  })
})

suite('password: bcrypt\'s 72 bytes', () => {
  it('refuses a longer password unless truncate is set; 72 bytes is whole', async () => {
    const long = 'é'.repeat(37) // 74 bytes in UTF-8, 37 characters
    await assert.rejects(hashPassword(long, { algorithm: 'bcrypt', cost: 4 }), (error) => {
      assert.equal(error.code, 'ERR_OUT_OF_RANGE')
      assert.match(error.message, /74 bytes/)
      assert.match(error.message, /truncate/)
      return true
    })
    const cut = await hashPassword(long, { algorithm: 'bcrypt', cost: 4, truncate: true })
    assert.equal(await verifyPassword(cut, Buffer.from(long).subarray(0, 72)), true)
    const whole = await hashPassword('z'.repeat(72), { algorithm: 'bcrypt', cost: 4 })
    assert.equal(await verifyPassword(whole, 'z'.repeat(72)), true)
    assert.equal(await verifyPassword(whole, `${'z'.repeat(71)}y`), false)
    // argon2 and scrypt have no such limit
    const argon = await hashPassword('q'.repeat(1000), { memoryCost: 64, timeCost: 1 })
    assert.equal(await verifyPassword(argon, 'q'.repeat(999)), false)
  })
})

suite('password: needsRehash', () => {
  it('is false for the parameters asked, true for others or another algorithm', async () => {
    const current = await hashPassword('pw')
    assert.equal(needsRehash(current), false)
    assert.equal(needsRehash(current, { algorithm: 'argon2id' }), false)
    assert.equal(needsRehash(current, { memoryCost: 65536 }), true)
    assert.equal(needsRehash(current, { timeCost: 3 }), true)
    assert.equal(needsRehash(current, { parallelism: 2 }), true)
    assert.equal(needsRehash(current, { hashLength: 64 }), true)
    assert.equal(needsRehash(current, { algorithm: 'scrypt' }), true)
    const old = await bcryptjs.hash('pw', 4)
    assert.equal(needsRehash(old), true) // bcrypt -> argon2id
    assert.equal(needsRehash(old, { algorithm: 'bcrypt', cost: 4 }), false)
    assert.equal(needsRehash(old, { algorithm: 'bcrypt' }), true) // cost 12 wanted
    // node-argon2's defaults: m=65536,t=3,p=4 (the same string when that peer is not installed)
    const theirs = argon2 ? await argon2.hash('pw') : await hashPassword('pw', { memoryCost: 65536, timeCost: 3, parallelism: 4 })
    assert.equal(needsRehash(theirs), true)
    assert.equal(needsRehash(theirs, { memoryCost: 65536, timeCost: 3, parallelism: 4 }), false)
    const scrypt = await hashPassword('pw', { algorithm: 'scrypt', N: 1024 })
    assert.equal(needsRehash(scrypt, { algorithm: 'scrypt', N: 1024 }), false)
    assert.equal(needsRehash(scrypt, { algorithm: 'scrypt' }), true)
    const v10 = '$argon2id$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xz4CuS3cSdYsJOhD5C5dsw6U5o4Vhm2eDPkqVJFLEXY'
    assert.equal(needsRehash(v10), true) // version 0x10
    assert.throws(() => needsRehash('nope'), { code: 'ERR_PASSWORD_HASH_INVALID' })
    assert.throws(() => needsRehash(current, { cost: 12 }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => needsRehash(current, { salt: Buffer.alloc(16) }), { code: 'ERR_INVALID_ARG_VALUE' })
  })
})

suite('password: needsRehash on hostile input', () => {
  it('returns a boolean or throws a coded TypeError/RangeError, for any value and params', () => {
    const params = fc.oneof(
      fc.constant(undefined),
      fc.record({
        algorithm: fc.oneof(fc.constantFrom('argon2id', 'argon2i', 'scrypt', 'bcrypt', 'md5'), fc.anything()),
        memoryCost: fc.oneof(fc.integer(), fc.double(), fc.anything()),
        cost: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.anything()),
        N: fc.oneof(fc.integer(), fc.anything()),
      }, { requiredKeys: [] }),
      fc.anything(),
    )
    const encoded = fc.oneof(fc.string({ maxLength: 120 }), fc.anything(), fc.constantFrom('$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA', '$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'))
    fc.assert(
      fc.property(encoded, params, (e, p) => {
        try {
          assert.equal(typeof needsRehash(e, p), 'boolean')
        } catch (error) {
          assert.ok((error instanceof TypeError || error instanceof RangeError) && /^ERR_/.test(error.code), `${error.code}: ${error.message}`)
        }
      }),
      { numRuns: 2000, seed: 5 },
    )
  })
})

suite('password: bad input', () => {
  it('names the argument and what it received', async () => {
    const cases = [
      [() => hashPassword(42), 'ERR_INVALID_ARG_TYPE', /"password" argument/],
      [() => hashPassword('pw', 'argon2id'), 'ERR_INVALID_ARG_TYPE', /"options" argument/],
      [() => hashPassword('pw', { algorithm: 'md5' }), 'ERR_INVALID_ARG_VALUE', /argon2id, argon2i, argon2d, scrypt, bcrypt/],
      [() => hashPassword('pw', { memoryCost: 7 }), 'ERR_OUT_OF_RANGE', /memoryCost/],
      [() => hashPassword('pw', { memoryCost: 31, parallelism: 4 }), 'ERR_OUT_OF_RANGE', />= 32/],
      [() => hashPassword('pw', { timeCost: 0 }), 'ERR_OUT_OF_RANGE', /timeCost/],
      [() => hashPassword('pw', { parallelism: 1.5 }), 'ERR_OUT_OF_RANGE', /parallelism/],
      [() => hashPassword('pw', { algorithm: 'scrypt', N: 1000 }), 'ERR_OUT_OF_RANGE', /power of two/],
      [() => hashPassword('pw', { algorithm: 'scrypt', N: 2 ** 17, r: 1 }), 'ERR_OUT_OF_RANGE', /2\^16/],
      [() => hashPassword('pw', { algorithm: 'bcrypt', cost: 3 }), 'ERR_OUT_OF_RANGE', /cost/],
      [() => hashPassword('pw', { algorithm: 'bcrypt', cost: 32 }), 'ERR_OUT_OF_RANGE', /cost/],
      [() => hashPassword('pw', { salt: Buffer.alloc(7) }), 'ERR_OUT_OF_RANGE', /salt.*Received 7 bytes/],
      [() => hashPassword('pw', { algorithm: 'bcrypt', salt: Buffer.alloc(8) }), 'ERR_OUT_OF_RANGE', /exactly 16/],
      [() => hashPassword('pw', { salt: 'saltsaltsalt' }), 'ERR_INVALID_ARG_TYPE', /options.salt/],
      [() => hashPassword('pw', { cost: 12 }), 'ERR_INVALID_ARG_VALUE', /bcrypt only/],
      [() => hashPassword('pw', { algorithm: 'bcrypt', memoryCost: 1024 }), 'ERR_INVALID_ARG_VALUE', /argon2 only/],
      [() => hashPassword('pw', { hashLenght: 32 }), 'ERR_INVALID_ARG_VALUE', /did you mean 'hashLength'/],
      [() => hashPassword('pw', { hashLength: 3 }), 'ERR_OUT_OF_RANGE', /hashLength/],
      [() => hashPassword('pw', { signal: 'no' }), 'ERR_INVALID_ARG_TYPE', /signal/],
      [() => verifyPassword(null, 'pw'), 'ERR_INVALID_ARG_TYPE', /"encoded" argument/],
      [() => verifyPassword('$2b$04$abc', {}), 'ERR_PASSWORD_HASH_INVALID', /not a password hash/],
      [() => verifyPassword('$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g', 5), 'ERR_INVALID_ARG_TYPE', /"password" argument/],
      [() => verifyPassword('$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g', 'pw', { maxMemory: -1 }), 'ERR_OUT_OF_RANGE', /maxMemory/],
      [() => verifyPassword('$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g', 'pw', { maxBcryptCost: 40 }), 'ERR_OUT_OF_RANGE', /maxBcryptCost/],
    ]
    for (const [call, code, message] of cases) {
      await assert.rejects(call(), (error) => {
        assert.equal(error.code, code, `${error.code}: ${error.message}`)
        assert.match(error.message, message)
        return true
      })
    }
  })
})

suite('password: aborts and fairness', () => {
  it('an abort rejects with AbortError carrying the reason, before or during the hash', async () => {
    const reason = new Error('user left')
    await assert.rejects(hashPassword('pw', { signal: AbortSignal.abort(reason) }), (error) => {
      assert.equal(error.name, 'AbortError')
      assert.equal(error.code, 'ABORT_ERR')
      assert.equal(error.cause, reason)
      return true
    })
    const controller = new AbortController()
    const call = hashPassword('pw', { memoryCost: 2 ** 16, timeCost: 50, signal: controller.signal })
    setTimeout(() => controller.abort(reason), 20)
    await assert.rejects(call, { name: 'AbortError', cause: reason })
  })

  it('reports progress as blocks or rounds done of the total', async () => {
    const seen = []
    await hashPassword('pw', { memoryCost: 2 ** 16, timeCost: 3, progressInterval: 1, onProgress: (p) => seen.push(p) })
    assert.ok(seen.length > 0)
    for (const p of seen) assert.ok(p.done <= p.total && p.total === 2 ** 16 * 3, JSON.stringify(p))
  })

  it('leaves a libuv thread for fs while 32 verifications wait (readFile finishes before they all do)', async () => {
    const stored = await hashPassword('pw')
    let finished = 0
    const logins = Array.from({ length: 32 }, () => verifyPassword(stored, 'pw').then((ok) => { finished++; return ok }))
    await fs.promises.readFile(__filename)
    assert.ok(finished < 32, `readFile waited for ${finished} of 32 verifications`)
    assert.deepEqual(await Promise.all(logins), Array(32).fill(true))
  })
})
