'use strict'

// Password hashing: argon2id (the default), argon2i, argon2d, scrypt and bcrypt, to and from the
// strings users store. A stored string is untrusted input: its parameters are read here
// (natively, without hashing) and bounded before the call is scheduled, and again natively
// before any memory is taken.

const native = require('./native.js')
const { invalidType, invalidValue, withCode } = require('./errors.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const ALGORITHMS = ['argon2id', 'argon2i', 'argon2d', 'scrypt', 'bcrypt']
/** OWASP Password Storage Cheat Sheet's parameters. */
const DEFAULTS = Object.freeze({
  argon2: Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1, hashLength: 32 }),
  scrypt: Object.freeze({ N: 2 ** 17, r: 8, p: 1, hashLength: 32 }),
  bcrypt: Object.freeze({ cost: 12 }),
})
/** The most a stored string may ask for unless verifyPassword's options say more. */
const VERIFY_LIMITS = Object.freeze({ maxMemory: 256 * 2 ** 20, maxTime: 10, maxParallelism: 16, maxBcryptCost: 16 })

/** Which options each algorithm family takes (besides algorithm, signal and progress). */
const FAMILY_OPTIONS = {
  argon2: ['memoryCost', 'timeCost', 'parallelism', 'hashLength', 'salt', 'secret', 'associatedData'],
  scrypt: ['N', 'r', 'p', 'hashLength', 'salt'],
  bcrypt: ['cost', 'salt', 'truncate'],
}
const ALL_PARAMS = [...new Set(Object.values(FAMILY_OPTIONS).flat())]
const BCRYPT_MAX_PASSWORD = 72

function familyOf(algorithm) {
  return algorithm.startsWith('argon2') ? 'argon2' : algorithm
}

function rangeError(message, code = 'ERR_OUT_OF_RANGE') {
  return withCode(new RangeError(message), code)
}

function algorithmOf(value, name) {
  if (value === undefined) return 'argon2id'
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value)
  if (!ALGORITHMS.includes(value)) throw invalidValue(name, value, `must be one of ${ALGORITHMS.join(', ')}`)
  return value
}

/** Bytes given as an option (salt, secret, associatedData): a Buffer, TypedArray, DataView or ArrayBuffer. */
function bytesOption(value, name) {
  if (value === undefined) return undefined
  if (typeof value === 'string') throw invalidType(name, 'an instance of Buffer, TypedArray, DataView or ArrayBuffer', value)
  return v.bytesOf(value, name)
}

function lengthIn(bytes, name, min, max) {
  if (bytes !== undefined && (bytes.byteLength < min || bytes.byteLength > max)) {
    const range = min === max ? `exactly ${min} bytes` : `${min} to ${max} bytes`
    throw rangeError(`The "${name}" option must be ${range} long. Received ${bytes.byteLength} bytes`)
  }
}

/**
 * The algorithm and its costs from hashPassword's or needsRehash's options, defaults filled
 * in; options of another algorithm are refused (`cost` with argon2id is a mistake, not a wish).
 */
function costsOf(opts, name) {
  const algorithm = algorithmOf(opts.algorithm, `${name}.algorithm`)
  const family = familyOf(algorithm)
  for (const key of ALL_PARAMS) {
    if (opts[key] !== undefined && !FAMILY_OPTIONS[family].includes(key)) {
      const owners = Object.keys(FAMILY_OPTIONS).filter((f) => FAMILY_OPTIONS[f].includes(key))
      throw invalidValue(`${name}.${key}`, opts[key], `applies to ${owners.join(' and ')} only, not to ${algorithm}`)
    }
  }
  const costs = { algorithm, family, memoryCost: 0, timeCost: 0, parallelism: 0, logN: 0, r: 0, p: 0, cost: 0, hashLength: 0 }
  if (family === 'argon2') {
    const d = DEFAULTS.argon2
    costs.parallelism = v.integer(opts.parallelism, `${name}.parallelism`, 1, 2 ** 24 - 1, d.parallelism)
    costs.memoryCost = v.integer(opts.memoryCost, `${name}.memoryCost`, 8 * costs.parallelism, 2 ** 32 - 1, d.memoryCost)
    costs.timeCost = v.integer(opts.timeCost, `${name}.timeCost`, 1, 2 ** 32 - 1, d.timeCost)
    costs.hashLength = v.integer(opts.hashLength, `${name}.hashLength`, 4, 1024, d.hashLength)
  } else if (family === 'scrypt') {
    const d = DEFAULTS.scrypt
    costs.r = v.integer(opts.r, `${name}.r`, 1, 2 ** 30 - 1, d.r)
    costs.p = v.integer(opts.p, `${name}.p`, 1, 2 ** 30 - 1, d.p)
    if (costs.r * costs.p >= 2 ** 30) {
      throw rangeError(`The value of "${name}.r * ${name}.p" is out of range. It must be < 2^30. Received ${costs.r * costs.p}`)
    }
    const N = v.integer(opts.N, `${name}.N`, 2, 2 ** 52, d.N)
    const logN = Math.log2(N)
    if (!Number.isInteger(logN) || logN >= 16 * costs.r) {
      throw rangeError(
        `The value of "${name}.N" is out of range. It must be a power of two from 2 to below 2^(16 * r) = 2^${Math.min(16 * costs.r, 53)}. Received ${N}`,
      )
    }
    costs.logN = logN
    costs.hashLength = v.integer(opts.hashLength, `${name}.hashLength`, 4, 1024, d.hashLength)
  } else {
    costs.cost = v.integer(opts.cost, `${name}.cost`, 4, 31, DEFAULTS.bcrypt.cost)
  }
  return costs
}

function passwordBytes(password) {
  return v.bytesOf(password, 'password')
}

function checkBcryptLength(bytes, truncate) {
  if (bytes.byteLength > BCRYPT_MAX_PASSWORD && !truncate) {
    throw rangeError(
      `The "password" argument is out of range for bcrypt. It must be at most ${BCRYPT_MAX_PASSWORD} bytes ` +
        '(bcrypt ignores the rest; use argon2id, or pass truncate: true to hash only the first 72 bytes as other bcrypt packages do). ' +
        `Received ${bytes.byteLength} bytes`,
    )
  }
}

const HASH_OPTIONS = ['algorithm', ...ALL_PARAMS, 'signal', ...v.PROGRESS_OPTIONS]

const hashPassword = operation('hashPassword', (password, options) => {
  const bytes = passwordBytes(password)
  const opts = v.options(options, 'options', HASH_OPTIONS)
  const costs = costsOf(opts, 'options')
  const salt = bytesOption(opts.salt, 'options.salt')
  if (costs.family === 'bcrypt') lengthIn(salt, 'options.salt', 16, 16)
  else lengthIn(salt, 'options.salt', 8, 1024)
  const secret = bytesOption(opts.secret, 'options.secret')
  const associatedData = bytesOption(opts.associatedData, 'options.associatedData')
  lengthIn(associatedData, 'options.associatedData', 0, 1024)
  const truncate = v.boolean(opts.truncate, 'options.truncate', false)
  if (costs.family === 'bcrypt') checkBcryptLength(bytes, truncate)
  const native_options = {
    algorithm: costs.algorithm,
    memoryCost: costs.memoryCost,
    timeCost: costs.timeCost,
    parallelism: costs.parallelism,
    logN: costs.logN,
    r: costs.r,
    p: costs.p,
    cost: costs.cost,
    hashLength: costs.hashLength,
    truncate,
  }
  return {
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
    start: (token) => native.passwordHash(bytes, native_options, salt, secret, associatedData, token),
  }
})

/** What a stored string says, or a coded TypeError when it is not a password hash. */
function inspect(encoded) {
  if (typeof encoded !== 'string') throw invalidType('encoded', 'of type string', encoded)
  const info = native.passwordInspect(encoded)
  if (info.error != null) {
    // The string itself is not quoted: stored hashes do not belong in logs.
    throw withCode(new TypeError(`The argument 'encoded' is not a password hash: ${info.error}.`), 'ERR_PASSWORD_HASH_INVALID')
  }
  return info
}

function limitsOf(opts) {
  return {
    maxMemory: v.integer(opts.maxMemory, 'options.maxMemory', 0, Number.MAX_SAFE_INTEGER, VERIFY_LIMITS.maxMemory),
    maxTime: v.integer(opts.maxTime, 'options.maxTime', 1, 2 ** 32 - 1, VERIFY_LIMITS.maxTime),
    maxParallelism: v.integer(opts.maxParallelism, 'options.maxParallelism', 1, 2 ** 30 - 1, VERIFY_LIMITS.maxParallelism),
    maxBcryptCost: v.integer(opts.maxBcryptCost, 'options.maxBcryptCost', 4, 31, VERIFY_LIMITS.maxBcryptCost),
  }
}

/** Refuses a stored string whose parameters pass `limits`, before anything is allocated. */
function checkLimits(info, limits) {
  const over = (what, limit) =>
    rangeError(
      `The hash in the "encoded" argument ${what}; ${limit} (raise it in verifyPassword's options to verify such hashes).`,
      'ERR_PASSWORD_HASH_LIMIT',
    )
  if (info.memory > limits.maxMemory) {
    throw over(`needs ${info.memory} bytes of memory`, `options.maxMemory is ${limits.maxMemory}`)
  }
  if (info.timeCost != null && info.timeCost > limits.maxTime) {
    throw over(`asks for t=${info.timeCost} passes`, `options.maxTime is ${limits.maxTime}`)
  }
  const lanes = info.parallelism ?? info.p
  if (lanes != null && lanes > limits.maxParallelism) {
    throw over(`asks for p=${lanes}`, `options.maxParallelism is ${limits.maxParallelism}`)
  }
  if (info.cost != null && info.cost > limits.maxBcryptCost) {
    throw over(`asks for bcrypt cost ${info.cost}`, `options.maxBcryptCost is ${limits.maxBcryptCost}`)
  }
}

const VERIFY_OPTIONS = ['maxMemory', 'maxTime', 'maxParallelism', 'maxBcryptCost', 'secret', 'truncate', 'signal', ...v.PROGRESS_OPTIONS]

const verifyPassword = operation('verifyPassword', (encoded, password, options) => {
  const info = inspect(encoded)
  const bytes = passwordBytes(password)
  const opts = v.options(options, 'options', VERIFY_OPTIONS)
  const limits = limitsOf(opts)
  const secret = bytesOption(opts.secret, 'options.secret')
  const truncate = v.boolean(opts.truncate, 'options.truncate', false)
  checkLimits(info, limits)
  if (info.algorithm === 'bcrypt') checkBcryptLength(bytes, truncate)
  const native_options = { ...limits, truncate }
  return {
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
    // A secret is argon2's alone; other hashes ignore it, so one call serves a mixed table.
    start: (token) =>
      native.passwordVerify(encoded, bytes, info.algorithm.startsWith('argon2') ? secret : undefined, native_options, token),
  }
})

const REHASH_OPTIONS = ['algorithm', 'memoryCost', 'timeCost', 'parallelism', 'N', 'r', 'p', 'cost', 'hashLength']

/**
 * Whether `encoded` was made with another algorithm or other parameters than `params` (the
 * defaults when left out), so that the app can hash the password again at login. Synchronous;
 * hashes nothing.
 */
function needsRehash(encoded, params) {
  const info = inspect(encoded)
  const want = costsOf(v.options(params, 'params', REHASH_OPTIONS), 'params')
  if (info.algorithm !== want.algorithm) return true
  switch (want.family) {
    case 'argon2':
      return (
        info.version !== 0x13 ||
        info.memoryCost !== want.memoryCost ||
        info.timeCost !== want.timeCost ||
        info.parallelism !== want.parallelism ||
        info.hashLength !== want.hashLength ||
        info.saltLength < 16
      )
    case 'scrypt':
      return info.logN !== want.logN || info.r !== want.r || info.p !== want.p || info.hashLength !== want.hashLength || info.saltLength < 16
    default:
      return info.cost !== want.cost
  }
}

module.exports = { DEFAULTS, VERIFY_LIMITS, hashPassword, needsRehash, verifyPassword }
