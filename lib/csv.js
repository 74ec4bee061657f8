'use strict'

// CSV into typed columns: options are checked here, the file is parsed natively on every
// core (see src/csv/mod.rs), and the result's strings are made once, at the end: long lists
// a slice at a time, the event loop running between slices.

const native = require('./native.js')
const { AbortError, invalidType, invalidValue } = require('./errors.js')
const { operation } = require('./scheduler.js')
const v = require('./validate.js')

const TYPES = ['float64', 'float32', 'int32', 'uint32', 'int64', 'bool', 'date', 'string', 'category']
const OPTIONS = ['delimiter', 'quote', 'decimal', 'header', 'skipRows', 'maxRows', 'nullValues', 'columns', 'types', 'relaxColumnCount', 'encoding', 'signal', ...v.PROGRESS_OPTIONS]
const ENCODINGS = ['utf-8', 'utf8', 'latin1', 'latin-1', 'iso-8859-1', 'binary', 'windows-1252', 'cp1252', 'utf-16le', 'utf16le', 'ucs2', 'ucs-2', 'utf-16be', 'utf16be']
const COMPRESSIONS = ['auto', 'none', 'gzip', 'zstd', 'brotli']

/**
 * The texts pandas reads as missing by default (`pandas.read_csv`'s `na_values`), for
 * `nullValues: 'pandas'`.
 */
const PANDAS_NULL_VALUES = Object.freeze(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null'])

/** A `{ name: type }` object's entries, checked (own enumerable keys: any header name). */
function typeEntries(obj, name) {
  return Object.keys(obj).map((key) => {
    const type = obj[key]
    const label = `${name}[${JSON.stringify(key)}]`
    if (typeof type !== 'string') throw invalidType(label, 'of type string', type)
    if (!TYPES.includes(type)) throw invalidValue(label, type, `must be one of ${TYPES.join(', ')}`)
    return [key, type]
  })
}

/** A one-byte character option as its byte. */
function byteOption(value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value)
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length !== 1) throw invalidValue(name, value, 'must be a single one-byte character')
  if (value === '\n' || value === '\r') throw invalidValue(name, value, 'must not be a line break')
  return bytes[0]
}

function csvOptions(options, extra = []) {
  const opts = v.options(options, 'options', [...OPTIONS, ...extra])
  const delimiter = byteOption(opts.delimiter, 'options.delimiter', 0x2c)
  const quote = byteOption(opts.quote, 'options.quote', 0x22)
  if (delimiter === quote) throw invalidValue('options.quote', opts.quote, 'must differ from the delimiter')
  const header = v.boolean(opts.header, 'options.header', true)
  const skipRows = v.integer(opts.skipRows, 'options.skipRows', 0, Number.MAX_SAFE_INTEGER, 0)
  const maxRows = opts.maxRows === undefined ? undefined : v.integer(opts.maxRows, 'options.maxRows', 0, Number.MAX_SAFE_INTEGER)
  let nullValues = ['']
  if (opts.nullValues === 'pandas') {
    nullValues = [...PANDAS_NULL_VALUES]
  } else if (opts.nullValues !== undefined) {
    if (!Array.isArray(opts.nullValues)) throw invalidType('options.nullValues', "an instance of Array or 'pandas'", opts.nullValues)
    opts.nullValues.forEach((s, i) => {
      if (typeof s !== 'string') throw invalidType(`options.nullValues[${i}]`, 'of type string', s)
    })
    nullValues = [...opts.nullValues]
  }
  // columns: { name: type } selects and types; [name, ...] selects. types: { name: type } types
  // some columns, the rest inferred.
  let select
  let typed = []
  const cols = opts.columns
  if (cols !== undefined) {
    if (Array.isArray(cols)) {
      select = cols.map((name, i) => {
        if (typeof name !== 'string') throw invalidType(`options.columns[${i}]`, 'of type string', name)
        return name
      })
      const seen = new Set()
      const dup = select.find((name) => seen.size === seen.add(name).size)
      if (dup !== undefined) throw invalidValue('options.columns', cols, `names ${JSON.stringify(dup)} twice`)
    } else if (cols !== null && typeof cols === 'object') {
      typed = typeEntries(cols, 'options.columns')
      select = typed.map(([name]) => name)
    } else {
      throw invalidType('options.columns', 'an instance of Array (names) or of type object (name to type)', cols)
    }
  }
  if (opts.types !== undefined) {
    if (opts.types === null || typeof opts.types !== 'object' || Array.isArray(opts.types)) throw invalidType('options.types', 'of type object (column name to type)', opts.types)
    if (cols !== undefined && !Array.isArray(cols)) throw invalidValue('options.types', opts.types, 'cannot be used with options.columns as an object (name to type): give options.columns as an array of names')
    typed = typeEntries(opts.types, 'options.types')
  }
  const decimal = byteOption(opts.decimal, 'options.decimal', 0x2e)
  if (decimal === delimiter) throw invalidValue('options.decimal', opts.decimal, 'must differ from the delimiter')
  let encoding = 'utf-8'
  if (opts.encoding !== undefined) {
    if (typeof opts.encoding !== 'string') throw invalidType('options.encoding', 'of type string', opts.encoding)
    encoding = opts.encoding.toLowerCase()
    if (!ENCODINGS.includes(encoding)) throw invalidValue('options.encoding', opts.encoding, "must be 'utf-8', 'latin1', 'windows-1252', 'utf-16le' or 'utf-16be'")
  }
  const relaxColumnCount = v.boolean(opts.relaxColumnCount, 'options.relaxColumnCount', false)
  return {
    native: {
      delimiter,
      quote,
      decimal,
      header,
      skipRows,
      maxRows,
      nullValues,
      select,
      typeNames: typed.map(([name]) => name),
      typeKinds: typed.map(([, type]) => type),
      relaxColumnCount,
      encoding,
      compression: 'auto',
    },
    signal: v.signal(opts.signal),
    progress: v.progress(opts),
    raw: opts,
  }
}

// Strings are made for about this long per turn of the event loop (3M distinct strings take
// ~540 ms in all).
const STRINGS_SLICE_MS = 4

function isPending(list) {
  // Own property only: a `pending` put on Object.prototype must not make a column look unmade.
  return list !== null && typeof list === 'object' && !Array.isArray(list) && Object.hasOwn(list, 'pending')
}

/** The array of a list of strings the native side left to make (`{ pending, length }`). */
async function makeStrings(list, signal) {
  const out = new Array(list.length)
  let at = 0
  for (;;) {
    at = native.fillStrings(list.pending, out, at, STRINGS_SLICE_MS)
    if (at >= list.length) return out
    await new Promise((resolve) => setImmediate(resolve))
    if (signal !== undefined && signal.aborted) throw new AbortError(undefined, { cause: signal.reason })
  }
}

/** The table with every string column and category list made. */
async function withStrings(table, signal) {
  for (const name of Object.keys(table.columns)) {
    const column = table.columns[name]
    // Defined, never assigned: a column may be named __proto__ (src/csv/binding.rs, set_key).
    if (isPending(column)) {
      const value = await makeStrings(column, signal)
      Object.defineProperty(table.columns, name, { value, writable: true, enumerable: true, configurable: true })
    } else if (column !== null && typeof column === 'object' && isPending(column.values)) {
      column.values = await makeStrings(column.values, signal)
    }
  }
  return table
}

/** Parses CSV bytes or text into typed columns (docs/csv.md). */
const parseCsv = operation('parseCsv', (input, options) => {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw invalidType('input', 'of type string or an instance of Buffer or Uint8Array', input)
  }
  const source = v.sourceOf(input, 'input')
  const { native: opts, signal, progress } = csvOptions(options)
  if (typeof input === 'string' && opts.encoding !== 'utf-8') {
    throw invalidValue('options.encoding', opts.encoding, 'applies to bytes (a Buffer or Uint8Array): a string is already text')
  }
  return {
    signal,
    progress,
    load: v.loadSources([source], signal),
    start: (token, [bytes] = [source]) => native.parseCsv(bytes, opts, token),
    complete: (table) => withStrings(table, signal),
  }
})

/** Reads a CSV file (plain or compressed) into typed columns (docs/csv.md). */
const readCsv = operation('readCsv', (path, options) => {
  const p = v.pathOf(path, 'path')
  const { native: opts, signal, progress, raw } = csvOptions(options, ['compression'])
  if (raw.compression !== undefined) {
    if (typeof raw.compression !== 'string') throw invalidType('options.compression', 'of type string', raw.compression)
    if (!COMPRESSIONS.includes(raw.compression)) throw invalidValue('options.compression', raw.compression, `must be one of ${COMPRESSIONS.join(', ')}`)
    opts.compression = raw.compression
  }
  return { signal, progress, start: (token) => native.readCsv(p, opts, token), complete: (table) => withStrings(table, signal) }
})

module.exports = { parseCsv, readCsv, PANDAS_NULL_VALUES }
