'use strict'

// CSV as users' files come: encodings written by Python's codecs (fixtures/csv, made by
// make-encodings.py), European decimal commas, compressed files, pandas' NA strings, inferred
// dates and categories, readCsv inferring what parseCsv infers across its windows, header
// names that are Object.prototype's, and errors naming the right column.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { after, before, describe: suite, it } = require('node:test')

const offload = require('..')

const FIXTURES = path.join(__dirname, 'fixtures', 'csv')
let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-csv-files-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** parseCsv of the file's bytes and readCsv of the file, which must agree; returns one. */
async function both(file, options) {
  const fromFile = await offload.readCsv(file, options)
  const fromBytes = await offload.parseCsv(fs.readFileSync(file), options)
  assert.deepEqual(fromFile, fromBytes)
  return fromFile
}

suite('CSV: encodings', () => {
  const utf = {
    city: ['Zürich', 'São Paulo', 'Kraków', 'Paris'],
    name: ['Müller', 'João', 'Łukasz', 'Émile'],
    note: ['naïve café', 'ação', 'zażółć', '“quoted” — dash'],
  }

  it("'latin1' reads each byte as its code point, as Python's latin-1 and Buffer's 'latin1' do", async () => {
    const file = path.join(FIXTURES, 'latin1.csv')
    const t = await both(file, { encoding: 'latin1' })
    assert.deepEqual(t.columns.city, ['Zürich', 'São Paulo', 'Ñandú'])
    assert.deepEqual(t.columns.name, ['Müller', 'João', 'ÿ\x85'])
    assert.deepEqual(t.columns.note, fs.readFileSync(file).toString('latin1').trim().split('\r\n').slice(1).map((l) => l.split(',')[3]))
    // As UTF-8 it is an error that points at the option.
    await assert.rejects(offload.readCsv(file), (e) => e.code === 'ERR_CSV_INVALID_UTF8' && /options\.encoding/.test(e.message) && e.column === 'city' && e.line === 2)
  })

  it("'windows-1252' reads 0x80-0x9F as WHATWG (and Python's cp1252) say: €, curly quotes, dashes", async () => {
    const t = await both(path.join(FIXTURES, 'windows-1252.csv'), { encoding: 'windows-1252' })
    assert.deepEqual(t.columns.city, ['Zürich', 'São Paulo', 'Paris'])
    assert.deepEqual(t.columns.price, ['3.5', '12', '€ 9'])
    assert.deepEqual(t.columns.note, ['naïve café', 'ação', '“quoted” — dash'])
    const alias = await offload.parseCsv(fs.readFileSync(path.join(FIXTURES, 'windows-1252.csv')), { encoding: 'CP1252' })
    assert.deepEqual(alias, t)
  })

  it("UTF-16: 'utf-16le' without a mark; a UTF-16 byte-order mark (LE or BE) is read whatever the option", async () => {
    for (const [name, options] of [['utf-16le.csv', { encoding: 'utf-16le' }], ['utf-16-bom.csv', {}], ['utf-16-bom.csv', { encoding: 'latin1' }], ['utf-16be-bom.csv', {}]]) {
      const t = await both(path.join(FIXTURES, name), options)
      assert.deepEqual(t.names, ['city', 'name', 'price', 'note'], name)
      for (const [col, want] of Object.entries(utf)) assert.deepEqual(t.columns[col], want, `${name} ${col}`)
      assert.equal(t.types.price, 'string')
    }
  })

  it('a malformed UTF-16 file (a lone surrogate) is an error with its line', async () => {
    const text = Buffer.from('a,b\n1,2\n3,', 'utf16le')
    const bad = Buffer.concat([text, Buffer.from([0x00, 0xd8]), Buffer.from('x\n', 'utf16le')])
    const file = path.join(dir, 'bad16.csv')
    fs.writeFileSync(file, bad)
    await assert.rejects(offload.readCsv(file, { encoding: 'utf-16le' }), (e) => e.code === 'ERR_CSV_INVALID_ENCODING' && e.line === 3)
  })

  it('the option is checked, and a string input refuses it (a string is already text)', async () => {
    await assert.rejects(offload.parseCsv(Buffer.from('a\n1'), { encoding: 'ebcdic' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /options\.encoding/.test(e.message))
    await assert.rejects(offload.parseCsv(Buffer.from('a\n1'), { encoding: 1 }), (e) => e.code === 'ERR_INVALID_ARG_TYPE')
    await assert.rejects(offload.parseCsv('a\n1', { encoding: 'latin1' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
    assert.equal((await offload.parseCsv('a\n1', { encoding: 'utf-8' })).rows, 1)
  })

  it('a large latin1 file read by readCsv equals Buffer.toString("latin1") parsed', async () => {
    // Several windows of text; every byte value 0x20-0xFF appears.
    const lines = ['id,text']
    for (let i = 0; i < 200_000; i++) {
      let s = ''
      for (let k = 0; k < 8; k++) s += String.fromCharCode(0xa0 + ((i * 7 + k * 13) % 96))
      lines.push(`${i},${s}`)
    }
    const bytes = Buffer.from(lines.join('\n'), 'latin1')
    const file = path.join(dir, 'big-latin1.csv')
    fs.writeFileSync(file, bytes)
    const t = await offload.readCsv(file, { encoding: 'latin1', types: { text: 'string' } })
    const want = await offload.parseCsv(bytes.toString('latin1'), { types: { text: 'string' } })
    assert.deepEqual(t, want)
    assert.equal(t.columns.text[199_999], lines[200_000].split(',')[1])
  })
})

suite('CSV: locales and missing values', () => {
  it("decimal: ',' with ';' between fields (a European export, as pandas reads it with decimal=',')", async () => {
    const t = await both(path.join(FIXTURES, 'european.csv'), { delimiter: ';', decimal: ',', encoding: 'windows-1252' })
    assert.deepEqual(t.types, { Datum: 'date', Stadt: 'string', Temperatur: 'float64', Umsatz: 'float64' })
    assert.deepEqual(Array.from(t.columns.Temperatur), [-3.5, 0.25, NaN])
    assert.deepEqual(Array.from(t.columns.Umsatz), [1234.5, 310.7, 1000])
    assert.deepEqual(t.columns.Stadt, ['Köln', 'Düsseldorf', 'München'])
    // A '.' is then not a decimal mark: a typed column refuses it.
    await assert.rejects(offload.parseCsv('x;y\n1.5;2', { delimiter: ';', decimal: ',', columns: { x: 'float64' } }), (e) => e.code === 'ERR_CSV_INVALID_VALUE' && e.column === 'x')
    await assert.rejects(offload.parseCsv('x\n1', { decimal: ',' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /decimal/.test(e.message))
  })

  it("nullValues: 'pandas' reads pandas' default NA strings as missing", async () => {
    const na = offload.PANDAS_NULL_VALUES
    assert.ok(na.includes('NA') && na.includes('N/A') && na.includes('null') && na.includes('NaN') && na.includes(''))
    const csv = 'x,s\n' + na.map((v, i) => `${v.includes(',') ? `"${v}"` : v},${i}`).join('\n') + '\n1.5,ok\n'
    const t = await offload.parseCsv(csv, { nullValues: 'pandas', types: { s: 'string' } })
    assert.equal(t.types.x, 'float64')
    assert.equal(t.rows, na.length + 1)
    assert.ok(Array.from(t.columns.x).slice(0, na.length).every(Number.isNaN))
    assert.equal(t.columns.x[na.length], 1.5)
    // Without it, 'NA' is text.
    assert.equal((await offload.parseCsv('x\n1\nNA\n')).types.x, 'string')
  })
})

suite('CSV: compressed files', () => {
  it('readCsv decompresses gzip (one member or many), zstd and brotli as it reads, by magic bytes, not by name', async () => {
    const lines = ['id,route,latency']
    for (let i = 0; i < 300_000; i++) lines.push(`${i},/api/v${i % 3}/items,${(i % 1000) / 10}`)
    const text = lines.join('\n') + '\n'
    const plainFile = path.join(dir, 'plain.csv')
    fs.writeFileSync(plainFile, text)
    const want = await offload.readCsv(plainFile)
    assert.equal(want.types.route, 'category')
    const files = {
      'node-gzip.csv': zlib.gzipSync(text),
      'offload-gzip.csv.gz': await offload.compress(Buffer.from(text), { format: 'gzip' }),
      'data.csv.zst': await offload.compress(Buffer.from(text), { format: 'zstd' }),
      'misnamed.txt': zlib.gzipSync(text, { level: 1 }),
    }
    for (const [name, bytes] of Object.entries(files)) {
      const file = path.join(dir, name)
      fs.writeFileSync(file, bytes)
      assert.deepEqual(await offload.readCsv(file), want, name)
    }
    const br = path.join(dir, 'data.csv.br')
    fs.writeFileSync(br, zlib.brotliCompressSync(text, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }))
    assert.deepEqual(await offload.readCsv(br, { compression: 'brotli' }), want)
    // 'none' reads the bytes as they are: a gzip file is then not UTF-8 text.
    await assert.rejects(offload.readCsv(path.join(dir, 'node-gzip.csv'), { compression: 'none' }), (e) => e.code.startsWith('ERR_CSV_'))
    await assert.rejects(offload.readCsv(plainFile, { compression: 'lz4' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
  })

  it('a truncated or corrupt compressed file rejects with the codec error, and maxRows stops early', async () => {
    const text = 'a,b\n' + Array.from({ length: 100_000 }, (_, i) => `${i},${i * 2}`).join('\n')
    const gz = zlib.gzipSync(text)
    const file = path.join(dir, 'cut.csv.gz')
    fs.writeFileSync(file, gz.subarray(0, gz.length - 100))
    await assert.rejects(offload.readCsv(file), (e) => e.code === 'Z_BUF_ERROR')
    fs.writeFileSync(file, gz)
    const t = await offload.readCsv(file, { maxRows: 5 })
    assert.deepEqual(Array.from(t.columns.b), [0, 2, 4, 6, 8])
  })

  it('a compressed latin1 file: decompressed, then transcoded', async () => {
    const text = 'name,n\n' + Array.from({ length: 50_000 }, (_, i) => `Größe ${i % 5},${i}`).join('\n')
    const file = path.join(dir, 'latin.csv.zst')
    fs.writeFileSync(file, await offload.compress(Buffer.from(text, 'latin1'), { format: 'zstd' }))
    const t = await offload.readCsv(file, { encoding: 'latin1' })
    assert.equal(t.types.name, 'category')
    assert.deepEqual(t.columns.name.values, ['Größe 0', 'Größe 1', 'Größe 2', 'Größe 3', 'Größe 4'])
  })
})

suite('CSV: inference and types', () => {
  it('infers ISO dates as date and repeated strings as category, and says the rule', async () => {
    const lines = ['time,day,route,user,n']
    for (let i = 0; i < 2000; i++) lines.push(`2026-11-27T10:${String(i % 60).padStart(2, '0')}:00.5Z,2026-12-${String((i % 28) + 1).padStart(2, '0')},/r${i % 20},user${i},${i}`)
    const t = await offload.parseCsv(lines.join('\n'))
    assert.deepEqual(t.types, { time: 'date', day: 'date', route: 'category', user: 'string', n: 'float64' })
    assert.equal(t.inferred, true)
    const rows = lines.slice(1).map((l) => l.split(','))
    assert.deepEqual(Array.from(t.columns.time), rows.map((r) => Date.parse(r[0])))
    assert.deepEqual(Array.from(t.columns.day), rows.map((r) => Date.parse(r[1])))
    assert.deepEqual(Array.from(t.columns.route.codes, (c) => t.columns.route.values[c]), rows.map((r) => r[2]))
    assert.deepEqual(t.columns.route.values.slice(0, 3), ['/r0', '/r1', '/r2'])
    // Few rows: 1 value in 16 needs 16 values; a bare year stays a number.
    const small = await offload.parseCsv('s,y\na,2026\na,2027\n')
    assert.deepEqual(small.types, { s: 'string', y: 'float64' })
  })

  it('infers bool for true/false columns without missing values; a later misfit names the inferred type', async () => {
    const lines = ['ok,flag,bits,gap']
    const words = ['true', 'false', 'TRUE', 'False']
    for (let i = 0; i < 40; i++) lines.push(`${words[i % 4]},${i % 3 ? 'true' : 'false'},${i % 2},${i === 7 ? '' : 'true'}`)
    const t = await offload.parseCsv(lines.join('\n'))
    // 1/0 read as numbers first; a column with a missing value has no spare bool for it (and
    // its one value makes it a category).
    assert.deepEqual(t.types, { ok: 'bool', flag: 'bool', bits: 'float64', gap: 'category' })
    assert.deepEqual(t.columns.ok, Uint8Array.from(lines.slice(1), (l) => (/^true/i.test(l) ? 1 : 0)))
    assert.deepEqual(t.columns.flag, Uint8Array.from({ length: 40 }, (_, i) => (i % 3 ? 1 : 0)))
    // A value past the sampled records that does not fit: the message says what was inferred.
    const late = ['n,b', ...Array.from({ length: 1000 }, (_, i) => `${i},true`), '5,', 'x,false'].join('\n')
    await assert.rejects(offload.parseCsv(late), (e) => {
      assert.equal(e.code, 'ERR_CSV_MISSING_VALUE')
      assert.equal(e.column, 'b')
      assert.match(e.message, /column 'b': "" \(its type 'bool' was inferred from the first 1000 records: give one in options\.types\)$/)
      return true
    })
    await assert.rejects(offload.parseCsv(late, { types: { b: 'string' } }), (e) => {
      assert.equal(e.code, 'ERR_CSV_INVALID_VALUE')
      assert.match(e.message, /column 'n': "x" \(its type 'float64' was inferred/)
      return true
    })
    // A column given its type: no such hint.
    await assert.rejects(offload.parseCsv(late, { types: { n: 'float64', b: 'string' } }), (e) => !/inferred/.test(e.message))
    const ok = await offload.parseCsv(late, { types: { n: 'string', b: 'string' } })
    assert.deepEqual(ok.columns.b.slice(-2), [null, 'false'])
  })

  it('an inferred category column with many values later becomes a string column, with every value', async () => {
    const lines = ['k']
    for (let i = 0; i < 1000; i++) lines.push(`k${i % 10}`)
    for (let i = 0; i < 20_000; i++) lines.push(`u${i}`)
    const t = await offload.parseCsv(lines.join('\n'))
    assert.equal(t.types.k, 'string')
    assert.deepEqual(t.columns.k, lines.slice(1))
    // Asked for, category stays category whatever the count.
    const c = await offload.parseCsv(lines.join('\n'), { types: { k: 'category' } })
    assert.equal(c.types.k, 'category')
    assert.equal(c.columns.k.values.length, 20_010)
    // Past 65,536 values (and across chunks and windows) as well.
    const many = ['k', ...Array.from({ length: 1000 }, (_, i) => `c${i % 5}`), ...Array.from({ length: 1_200_000 }, (_, i) => `v${i % 70_000}`)].join('\n')
    const file = path.join(dir, 'many.csv')
    fs.writeFileSync(file, many)
    const m = await offload.readCsv(file)
    assert.equal(m.types.k, 'string')
    assert.equal(m.columns.k.length, 1_201_000)
    assert.equal(m.columns.k[1_200_999], `v${1_199_999 % 70_000}`)
  })

  it('types: some columns typed, the rest inferred; columns as an array selects', async () => {
    const csv = 'a,b,c,d\n1,x,2026-01-01,5\n2,y,2026-01-02,6\n'
    const t = await offload.parseCsv(csv, { types: { a: 'int32', d: 'string' } })
    assert.deepEqual(t.types, { a: 'int32', b: 'string', c: 'date', d: 'string' })
    assert.deepEqual(t.columns.a, new Int32Array([1, 2]))
    assert.deepEqual(t.columns.d, ['5', '6'])
    assert.equal(t.inferred, true)
    const s = await offload.parseCsv(csv, { columns: ['d', 'a'], types: { a: 'uint32' } })
    assert.deepEqual(Object.keys(s.columns), ['d', 'a'])
    assert.deepEqual(s.types, { d: 'float64', a: 'uint32' })
    const all = await offload.parseCsv(csv, { columns: ['a'], types: { a: 'int32' } })
    assert.equal(all.inferred, false)
    await assert.rejects(offload.parseCsv(csv, { columns: ['a'], types: { b: 'string' } }), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /does not select/.test(e.message))
    await assert.rejects(offload.parseCsv(csv, { types: { zz: 'string' } }), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /'zz'/.test(e.message))
    await assert.rejects(offload.parseCsv(csv, { columns: { a: 'int32' }, types: { b: 'string' } }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(offload.parseCsv(csv, { types: ['a'] }), (e) => e.code === 'ERR_INVALID_ARG_TYPE')
    await assert.rejects(offload.parseCsv(csv, { types: { a: 'int' } }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(offload.parseCsv(csv, { columns: ['a', 'a'] }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
    await assert.rejects(offload.parseCsv(csv, { columns: [1] }), (e) => e.code === 'ERR_INVALID_ARG_TYPE')
  })

  it('readCsv infers from the same records as parseCsv, whatever the window: long rows, a late bad value, a huge header', async () => {
    // 1,000 rows of ~80 KB: the first 8 MiB window holds ~100 of them. Row 900's x is text,
    // so x is a string column for both (before, readCsv inferred float64 from its window and
    // then failed).
    const pad = 'p'.repeat(80_000)
    const lines = ['x,pad']
    for (let i = 0; i < 1000; i++) lines.push(`${i === 900 ? 'n/a' : i},${pad}`)
    const file = path.join(dir, 'long-rows.csv')
    fs.writeFileSync(file, lines.join('\n'))
    const t = await offload.readCsv(file, { columns: ['x'] })
    const p = await offload.parseCsv(fs.readFileSync(file), { columns: ['x'] })
    assert.deepEqual(t, p)
    assert.equal(t.types.x, 'string')
    assert.equal(t.columns.x[900], 'n/a')
    // A header longer than a window.
    const names = Array.from({ length: 700_000 }, (_, i) => `column_number_${i}_long_name`)
    const wide = path.join(dir, 'wide.csv')
    fs.writeFileSync(wide, names.join(',') + '\n' + names.map((_, i) => i).join(',') + '\n')
    assert.ok(fs.statSync(wide).size > 2 * 8 * 2 ** 20)
    const w = await offload.readCsv(wide, { columns: ['column_number_699999_long_name'] })
    assert.equal(w.names.length, 700_000)
    assert.deepEqual(Array.from(w.columns.column_number_699999_long_name), [699_999])
  })
})

suite('CSV: untrusted header names and error columns', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']

  it('every header name is an own property of columns and types, Object.prototype names included', async () => {
    const csv = names.join(',') + '\n1,2,3,4,5\n'
    for (const options of [{}, { types: JSON.parse('{"__proto__":"int32","toString":"string"}') }, { columns: JSON.parse('{"__proto__":"float64","constructor":"string","toString":"category","hasOwnProperty":"int32","valueOf":"uint32"}') }, { columns: names }]) {
      const t = await offload.parseCsv(csv, options)
      assert.deepEqual(Object.keys(t.columns), names, JSON.stringify(options))
      assert.deepEqual(Object.keys(t.types), names)
      assert.equal(Object.getPrototypeOf(t.columns), Object.prototype)
      assert.equal(Object.getPrototypeOf(t.types), Object.prototype)
      const keys = []
      for (const k in t.columns) keys.push(k)
      assert.deepEqual(keys, names)
      for (const n of names) assert.ok(Object.hasOwn(t.columns, n) && Object.hasOwn(t.types, n), n)
    }
    const t = await offload.parseCsv(csv, { types: JSON.parse('{"__proto__":"int32"}') })
    assert.deepEqual(t.columns.__proto__, new Int32Array([1]))
    assert.equal(t.types.__proto__, 'int32')
    assert.equal(t.types.constructor, 'float64')
    // The object is still an ordinary object.
    assert.equal(typeof Object.prototype.toString.call(t.columns), 'string')
  })

  it('quote errors name the column of the field they are in', async () => {
    const cases = [
      ['a,b,c\n"x"y,2,3', 'ERR_CSV_INVALID_QUOTE', 'a'],
      ['a,b,c\n1,"x"y,3', 'ERR_CSV_INVALID_QUOTE', 'b'],
      ['a,b,c\n1,2,"x"y', 'ERR_CSV_INVALID_QUOTE', 'c'],
      ['a,b,c\n1,x"y,3', 'ERR_CSV_INVALID_QUOTE', 'b'],
      ['a,b,c\n1,2,"open', 'ERR_CSV_UNTERMINATED_QUOTE', 'c'],
    ]
    for (const [csv, code, column] of cases) {
      for (const options of [{}, { types: { a: 'string' } }]) {
        await assert.rejects(offload.parseCsv(csv, options), (e) => {
          assert.equal(e.code, code, csv)
          assert.equal(e.column, column, csv)
          assert.equal(e.line, 2)
          assert.match(e.message, new RegExp(`column '${column}'`))
          return true
        })
      }
    }
  })
})
