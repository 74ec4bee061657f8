'use strict'

// CSV into typed columns: options are checked here, the file is parsed natively on every
// core (see src/csv/mod.rs), and the result's strings are made once, at the end.

const native = require('./native.js')
const { invalidType, invalidValue } = require('./errors.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const TYPES = ['float64', 'float32', 'int32', 'uint32', 'int64', 'bool', 'date', 'string', 'category']
const OPTIONS = ['delimiter', 'quote', 'header', 'skipRows', 'maxRows', 'nullValues', 'columns', 'relaxColumnCount', 'signal', ...v.PROGRESS_OPTIONS]

/** A one-byte character option as its byte. */
function byteOption(value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value)
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length !== 1) throw invalidValue(name, value, 'must be a single one-byte character')
  if (value === '\n' || value === '\r') throw invalidValue(name, value, 'must not be a line break')
  return bytes[0]
}

function csvOptions(options) {
  const opts = v.options(options, 'options', OPTIONS)
  const delimiter = byteOption(opts.delimiter, 'options.delimiter', 0x2c)
  const quote = byteOption(opts.quote, 'options.quote', 0x22)
  if (delimiter === quote) throw invalidValue('options.quote', opts.quote, 'must differ from the delimiter')
  const header = v.boolean(opts.header, 'options.header', true)
  const skipRows = v.integer(opts.skipRows, 'options.skipRows', 0, Number.MAX_SAFE_INTEGER, 0)
  const maxRows = opts.maxRows === undefined ? undefined : v.integer(opts.maxRows, 'options.maxRows', 0, Number.MAX_SAFE_INTEGER)
  let nullValues = ['']
  if (opts.nullValues !== undefined) {
    if (!Array.isArray(opts.nullValues)) throw invalidType('options.nullValues', 'an instance of Array', opts.nullValues)
    opts.nullValues.forEach((s, i) => {
      if (typeof s !== 'string') throw invalidType(`options.nullValues[${i}]`, 'of type string', s)
    })
    nullValues = [...opts.nullValues]
  }
  let columnNames
  let columnTypes
  if (opts.columns !== undefined) {
    const cols = opts.columns
    if (cols === null || typeof cols !== 'object' || Array.isArray(cols)) throw invalidType('options.columns', 'of type object (column name to type)', cols)
    columnNames = Object.keys(cols)
    columnTypes = columnNames.map((name) => {
      const type = cols[name]
      if (typeof type !== 'string') throw invalidType(`options.columns[${JSON.stringify(name)}]`, 'of type string', type)
      if (!TYPES.includes(type)) throw invalidValue(`options.columns[${JSON.stringify(name)}]`, type, `must be one of ${TYPES.join(', ')}`)
      return type
    })
  }
  const relaxColumnCount = v.boolean(opts.relaxColumnCount, 'options.relaxColumnCount', false)
  return {
    native: { delimiter, quote, header, skipRows, maxRows, nullValues, columnNames, columnTypes, relaxColumnCount },
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
  }
}

const parseCsv = operation('parseCsv', (input, options) => {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw invalidType('input', 'of type string or an instance of Buffer or Uint8Array', input)
  }
  const bytes = v.bytesOf(input, 'input')
  const { native: opts, signal, progress } = csvOptions(options)
  return { signal, progress, start: (token) => native.parseCsv(bytes, opts, token) }
})

const readCsv = operation('readCsv', (path, options) => {
  const p = v.pathOf(path, 'path')
  const { native: opts, signal, progress } = csvOptions(options)
  return { signal, progress, start: (token) => native.readCsv(p, opts, token) }
})

module.exports = { parseCsv, readCsv }
