'use strict'

// The piscina worker of benchmark/password.js: the WebAssembly and plain-JS hashers, one hash
// per task, as a worker pool would run them.

const hw = require('hash-wasm')
const bcryptjs = require('bcryptjs')

module.exports = async ({ algorithm, options }) => {
  if (algorithm === 'argon2id') return hw.argon2id(options)
  if (algorithm === 'bcrypt') return bcryptjs.hashSync(options.password, options.cost)
  throw new Error(`unknown algorithm ${algorithm}`)
}
