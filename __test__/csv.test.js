'use strict'

// CSV into typed columns, against independent references: a plain-JS RFC 4180 writer for
// round trips (fast-check tables with quotes, delimiters and line breaks in fields), Number()
// and Date.parse for every conversion, and a sequential plain-JS reading of the same file.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { after, before, describe: suite, it } = require('node:test')
const fc = require('fast-check')

const offload = require('..')

/** RFC 4180 writer: a field is quoted when it holds the delimiter, a quote or a line break. */
function writeCsv(rows, { delimiter = ',', eol = '\n', quoteAll = false } = {}) {
  const field = (s) => {
    if (s === null) return ''
    const text = String(s)
    return quoteAll || text.includes(delimiter) || /["\r\n]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text
  }
  return rows.map((r) => r.map(field).join(delimiter)).join(eol)
}

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-csv-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

suite('parseCsv: the format', () => {
  it('reads a header and typed columns', async () => {
    const csv = 'id,name,score,ok,when\n1,ann,1.5,true,2026-11-27\n2,bob,-0,false,2026-11-27T10:00:00Z\n'
    const t = await offload.parseCsv(csv, { columns: { id: 'int32', name: 'string', score: 'float64', ok: 'bool', when: 'date' } })
    assert.deepEqual(t.names, ['id', 'name', 'score', 'ok', 'when'])
    assert.equal(t.rows, 2)
    assert.deepEqual(t.columns.id, new Int32Array([1, 2]))
    assert.deepEqual(t.columns.name, ['ann', 'bob'])
    assert.ok(t.columns.score instanceof Float64Array)
    assert.ok(Object.is(t.columns.score[1], -0))
    assert.deepEqual(t.columns.ok, new Uint8Array([1, 0]))
    assert.deepEqual(Array.from(t.columns.when), [Date.parse('2026-11-27'), Date.parse('2026-11-27T10:00:00Z')])
    assert.equal(t.inferred, false)
    assert.deepEqual(t.types, { id: 'int32', name: 'string', score: 'float64', ok: 'bool', when: 'date' })
  })

  it('follows RFC 4180: quoted delimiters, line breaks and doubled quotes; CRLF; no final newline; a BOM', async () => {
    const csv = '\ufeffa,b\r\n"x, y","line1\r\nline2"\r\n"say ""hi""",plain\r\n"",last'
    const t = await offload.parseCsv(csv, { columns: { a: 'string', b: 'string' } })
    assert.deepEqual(t.names, ['a', 'b'])
    assert.deepEqual(t.columns.a, ['x, y', 'say "hi"', null])
    assert.deepEqual(t.columns.b, ['line1\r\nline2', 'plain', 'last'])
  })

  it('infers float64 for numeric columns and string for the rest, and says so', async () => {
    const t = await offload.parseCsv('n,s,mixed,empty\n1,a,1,\n2.5,b,x,\n,c,3,\n')
    assert.equal(t.inferred, true)
    assert.deepEqual(t.types, { n: 'float64', s: 'string', mixed: 'string', empty: 'string' })
    assert.deepEqual(Array.from(t.columns.n), [1, 2.5, NaN])
    assert.deepEqual(t.columns.mixed, ['1', 'x', '3'])
    assert.deepEqual(t.columns.empty, [null, null, null])
  })

  it('numbers convert exactly as Number() converts the same text', async () => {
    const texts = ['0', '-0', '1e400', '-1e400', '0x10', '0b101', '0o17', ' 12 ', '+5', '.5', '5.', '1.7976931348623157e308', '5e-324', '0.1', '123456789012345678901234567890', 'Infinity', '-Infinity', 'NaN', '2.2250738585072011e-308', '\u00a07']
    const csv = 'x\n' + texts.map((s) => `"${s}"`).join('\n')
    const t = await offload.parseCsv(csv, { columns: { x: 'float64' } })
    texts.forEach((s, i) => assert.ok(Object.is(t.columns.x[i], Number(s)), `${JSON.stringify(s)}: ${t.columns.x[i]} vs ${Number(s)}`))
    const f32 = await offload.parseCsv(csv, { columns: { x: 'float32' } })
    texts.forEach((s, i) => assert.ok(Object.is(f32.columns.x[i], Math.fround(Number(s))), s))
    for (const bad of ['abc', '1_000', 'inf', '1e', '0x', '--1', '-0x10']) {
      await assert.rejects(offload.parseCsv(`x\n${bad}\n`, { columns: { x: 'float64' } }), (e) => {
        assert.equal(e.code, 'ERR_CSV_INVALID_VALUE')
        assert.equal(e.line, 2)
        assert.equal(e.column, 'x')
        assert.equal(e.text, bad)
        assert.match(e.message, /line 2, column 'x'/)
        return true
      }, bad)
    }
  })

  it('property: random numbers written with String() read back as Number() reads them', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.double(), { minLength: 1, maxLength: 200 }), async (xs) => {
      const t = await offload.parseCsv('x\n' + xs.map(String).join('\n'), { columns: { x: 'float64' } })
      xs.forEach((x, i) => assert.ok(Object.is(t.columns.x[i], Number(String(x))), String(x)))
    }), { numRuns: 100 })
  })

  it('integers, bigints, bools, dates and categories, with their errors', async () => {
    const t = await offload.parseCsv('i,u,big,b,d,c\n-2147483648,4294967295,-9223372036854775808,1,2026-02-30,red\n1e3,0x10,0x7fffffffffffffff,False,+002026-01-01T00:00:00.123456+01:00,blue\n7,0,42,TRUE,,red\n', {
      columns: { i: 'int32', u: 'uint32', big: 'int64', b: 'bool', d: 'date', c: 'category' },
    })
    assert.deepEqual(t.columns.i, new Int32Array([-2147483648, 1000, 7]))
    assert.deepEqual(t.columns.u, new Uint32Array([4294967295, 16, 0]))
    assert.deepEqual(t.columns.big, new BigInt64Array([-9223372036854775808n, 9223372036854775807n, 42n]))
    assert.deepEqual(t.columns.b, new Uint8Array([1, 0, 1]))
    assert.deepEqual(Array.from(t.columns.d), [Date.parse('2026-02-30'), Date.parse('+002026-01-01T00:00:00.123456+01:00'), NaN])
    assert.deepEqual(t.columns.c, { codes: new Uint32Array([0, 1, 0]), values: ['red', 'blue'] })
    const cases = [
      ['int32', '2147483648', 'ERR_CSV_INVALID_VALUE'],
      ['int32', '1.5', 'ERR_CSV_INVALID_VALUE'],
      ['uint32', '-1', 'ERR_CSV_INVALID_VALUE'],
      ['int64', '1e3', 'ERR_CSV_INVALID_VALUE'],
      ['int64', '9223372036854775808', 'ERR_CSV_INVALID_VALUE'],
      ['bool', 'yes', 'ERR_CSV_INVALID_VALUE'],
      ['date', '2026-13-01', 'ERR_CSV_INVALID_VALUE'],
      ['int32', '', 'ERR_CSV_MISSING_VALUE'],
      ['bool', '', 'ERR_CSV_MISSING_VALUE'],
    ]
    const valid = { int32: '1', uint32: '1', int64: '1', bool: '1', date: '2026' }
    for (const [type, text, code] of cases) {
      await assert.rejects(offload.parseCsv(`a,v\n1,${valid[type]}\n2,${text}\n`, { columns: { v: type } }), (e) => {
        assert.equal(e.code, code, `${type} ${JSON.stringify(text)}: ${e.message}`)
        assert.equal(e.line, 3)
        assert.equal(e.column, 'v')
        return true
      })
    }
  })

  it('missing values: NaN in float and date columns, null in strings, 0xFFFFFFFF codes; nullValues', async () => {
    const t = await offload.parseCsv('f,s,c\n,,\nNA,x,y\n', { columns: { f: 'float64', s: 'string', c: 'category' }, nullValues: ['', 'NA'] })
    assert.deepEqual(Array.from(t.columns.f), [NaN, NaN])
    assert.deepEqual(t.columns.s, [null, 'x'])
    assert.deepEqual(Array.from(t.columns.c.codes), [0xffffffff, 0])
  })

  it('malformed files reject with a CSV code naming the line, the column and the text', async () => {
    await assert.rejects(offload.parseCsv('a,b\n1,2\n3,"open\n4,5\n'), { code: 'ERR_CSV_UNTERMINATED_QUOTE', line: 3 })
    await assert.rejects(offload.parseCsv('a,b\n1,2\n3\n'), (e) => e.code === 'ERR_CSV_COLUMN_COUNT' && e.line === 3 && /1 fields where the header has 2/.test(e.message))
    await assert.rejects(offload.parseCsv('a,b\n1,2\n3,4,5\n'), { code: 'ERR_CSV_COLUMN_COUNT', line: 3 })
    await assert.rejects(offload.parseCsv('a,b\n1,"2"x\n'), { code: 'ERR_CSV_INVALID_QUOTE', line: 2 })
    await assert.rejects(offload.parseCsv('a,b\n1,2"3\n'), { code: 'ERR_CSV_INVALID_QUOTE', line: 2 })
    const bad = Buffer.concat([Buffer.from('s\nok\n'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])
    await assert.rejects(offload.parseCsv(bad, { columns: { s: 'string' } }), { code: 'ERR_CSV_INVALID_UTF8', line: 3, column: 's' })
    await assert.rejects(offload.parseCsv(bad, { columns: { s: 'category' } }), { code: 'ERR_CSV_INVALID_UTF8' })
  })

  it('options: delimiters, no header, skipRows, maxRows, relaxColumnCount, a subset of columns', async () => {
    for (const delimiter of ['\t', ';', '|']) {
      const t = await offload.parseCsv(`a${delimiter}b\n1${delimiter}"x${delimiter}y"\n`, { delimiter })
      assert.deepEqual(t.columns.b, [`x${delimiter}y`], JSON.stringify(delimiter))
    }
    const noHeader = await offload.parseCsv('1,2\n3,4\n', { header: false })
    assert.deepEqual(noHeader.names, ['0', '1'])
    assert.deepEqual(Array.from(noHeader.columns['1']), [2, 4])
    const skipped = await offload.parseCsv('# exported by a tool\n# on a day\na\n1\n2\n3\n', { skipRows: 2, maxRows: 2 })
    assert.equal(skipped.rows, 2)
    assert.deepEqual(Array.from(skipped.columns.a), [1, 2])
    const relaxed = await offload.parseCsv('a,b,c\n1\n2,3,4,5\n', { relaxColumnCount: true, columns: { a: 'float64', c: 'float64' } })
    assert.deepEqual(Array.from(relaxed.columns.c), [NaN, 4])
    const subset = await offload.parseCsv('a,b,c\n1,x,3\n', { columns: { c: 'int32' } })
    assert.deepEqual(Object.keys(subset.columns), ['c'])
    await assert.rejects(offload.parseCsv('a\n1\n', { columns: { z: 'float64' } }), { code: 'ERR_INVALID_ARG_VALUE', message: /'z'.*columns are: a/ })
    const dupes = await offload.parseCsv('a,a,a\n1,2,3\n')
    assert.deepEqual(dupes.names, ['a', 'a_2', 'a_3'])
    const empty = await offload.parseCsv('')
    assert.deepEqual([empty.names, empty.rows], [[], 0])
    const headerOnly = await offload.parseCsv('a,b\n', { columns: { a: 'float64' } })
    assert.deepEqual([headerOnly.rows, headerOnly.columns.a.length], [0, 0])
  })

  it('bad options fail with Node-style errors', async () => {
    await assert.rejects(offload.parseCsv(42), { code: 'ERR_INVALID_ARG_TYPE', message: /"input"/ })
    await assert.rejects(offload.parseCsv('a', { delimiter: ',,' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.parseCsv('a', { delimiter: '§' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.parseCsv('a', { quote: ',' }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.parseCsv('a', { columns: { a: 'decimal' } }), { code: 'ERR_INVALID_ARG_VALUE' })
    await assert.rejects(offload.parseCsv('a', { maxRows: -1 }), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(offload.parseCsv('a', { colums: {} }), { code: 'ERR_INVALID_ARG_VALUE', message: /did you mean 'columns'/ })
  })
})

suite('parseCsv: large files, chunked on every core', () => {
  /** Rows whose text fields hold quotes, delimiters and line breaks, so that chunk cuts fall inside quoted fields. */
  function tableRows(n, seed) {
    let x = seed
    const rnd = () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0
      return x / 2 ** 32
    }
    const words = ['plain', 'with, comma', 'with "quotes"', 'multi\nline', 'crlf\r\nline', '', 'é ü 中文', '"', ',\n,']
    const rows = []
    for (let i = 0; i < n; i++) {
      rows.push([i, (rnd() * 2e6 - 1e6).toFixed(3), words[Math.floor(rnd() * words.length)], rnd() < 0.05 ? '' : String(Math.floor(rnd() * 1000))])
    }
    return rows
  }

  it('a file of several MiB reads back exactly, whatever the chunk cuts fall on', async () => {
    const rows = tableRows(200_000, 7)
    const csv = writeCsv([['id', 'x', 'text', 'n'], ...rows])
    assert.ok(csv.length > 4e6, `${csv.length}`)
    const t = await offload.parseCsv(csv, { columns: { id: 'uint32', x: 'float64', text: 'string', n: 'float64' }, nullValues: [] })
    assert.equal(t.rows, rows.length)
    for (let i = 0; i < rows.length; i++) {
      assert.equal(t.columns.id[i], rows[i][0])
      assert.equal(t.columns.x[i], Number(rows[i][1]))
      assert.equal(t.columns.text[i], rows[i][2])
      const n = rows[i][3]
      if (n === '') assert.ok(Number.isNaN(t.columns.n[i]) || t.columns.n[i] === 0)
      else assert.equal(t.columns.n[i], Number(n))
    }
    const cat = await offload.parseCsv(csv, { columns: { text: 'category' } })
    for (let i = 0; i < rows.length; i += 997) {
      const want = rows[i][2] === '' ? 0xffffffff : cat.columns.text.values.indexOf(rows[i][2])
      assert.equal(cat.columns.text.codes[i], want)
    }
  })

  it('a category column of many distinct values over many chunks: one dictionary in order of first appearance', async () => {
    // 150,000 distinct values (the join then splits them into shards by hash), each chunk
    // seeing some values first and others again; missing values among them.
    const n = 600_000
    const lines = ['id,c']
    for (let i = 0; i < n; i++) lines.push(`${i},${i % 101 === 0 ? 'NA' : `w${(i * 7919) % 150_000}${i % 3 === 0 ? 'é' : ''}`}`)
    const text = lines.join('\n')
    const order = new Map()
    const want = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      const v = lines[i + 1].slice(lines[i + 1].indexOf(',') + 1)
      if (v === 'NA') {
        want[i] = 0xffffffff
        continue
      }
      if (!order.has(v)) order.set(v, order.size)
      want[i] = order.get(v)
    }
    assert.ok(order.size > 100_000, `${order.size}`)
    for (const input of [text, Buffer.from(text)]) {
      const t = await offload.parseCsv(input, { types: { c: 'category' }, nullValues: ['NA'] })
      assert.deepEqual(t.columns.c.values, [...order.keys()])
      assert.deepEqual(t.columns.c.codes, want)
    }
  })

  it('long string lists are made a slice at a time, the event loop running between slices; an abort stops them', async () => {
    const native = require('../lib/native.js')
    const real = native.fillStrings
    const n = 100_000
    const rows = Array.from({ length: n }, (_, i) => [i % 10 === 3 ? 'NA' : `s${i}${i % 7 === 0 ? 'é€' : ''}`.repeat(1 + (i % 3)), `c${i}`])
    const csv = writeCsv([['text', 'cat'], ...rows])
    const options = { columns: { text: 'string', cat: 'category' }, nullValues: ['NA'] }
    let turns = 0
    let running = true
    const tick = () => {
      turns++
      if (running) setImmediate(tick)
    }
    const seen = []
    let handle
    // A budget of 0 ms: every slice is the shortest, 1024 strings, whatever the machine's speed.
    let runningDuringSlices = 0
    native.fillStrings = (pending, out, from, budget) => {
      assert.equal(budget, 4)
      seen.push(turns)
      handle = pending
      runningDuringSlices = Math.min(runningDuringSlices || Infinity, offload.stats().running)
      return real(pending, out, from, 0)
    }
    try {
      tick()
      const before = offload.stats()
      const t = await offload.parseCsv(csv, options)
      // The call runs until its strings are made, and is counted once, as completed.
      assert.equal(runningDuringSlices, 1)
      const after = offload.stats()
      assert.deepEqual([after.completed - before.completed, after.cancelled - before.cancelled, after.running], [1, 0, 0])
      assert.equal(t.columns.text.length, n)
      for (let i = 0; i < n; i++) {
        assert.equal(t.columns.text[i], rows[i][0] === 'NA' ? null : rows[i][0])
        assert.equal(t.columns.cat.values[t.columns.cat.codes[i]], rows[i][1])
      }
      assert.equal(t.columns.cat.values.length, n)
      // 98 slices a list, and the loop ran between any two of one list.
      assert.equal(seen.length, 2 * Math.ceil(n / 1024))
      let between = 0
      for (let k = 1; k < seen.length; k++) between += seen[k] > seen[k - 1] ? 1 : 0
      assert.ok(between >= seen.length - 2, `${between} of ${seen.length}`)
      // Short lists are made at once.
      seen.length = 0
      const small = await offload.parseCsv(writeCsv([['text'], ...rows.slice(0, 1000).map((r) => [r[1]])]), { columns: { text: 'string' } })
      assert.equal(small.columns.text[999], 'c999')
      assert.equal(seen.length, 0)
      // An index past the list is refused, not read.
      assert.throws(() => real(handle, [], n + 1, 0), /past the list/)
      // An abort between slices rejects with its reason, and no slice follows.
      const controller = new AbortController()
      native.fillStrings = (pending, out, from) => {
        seen.push(from)
        if (seen.length === 3) controller.abort(new Error('stop'))
        return real(pending, out, from, 0)
      }
      const beforeAbort = offload.stats()
      await assert.rejects(
        offload.parseCsv(csv, { ...options, signal: controller.signal }),
        (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'stop',
      )
      assert.deepEqual(seen, [0, 1024, 2048])
      // Counted as cancelled, not completed.
      const afterAbort = offload.stats()
      assert.deepEqual(
        [afterAbort.completed - beforeAbort.completed, afterAbort.cancelled - beforeAbort.cancelled, afterAbort.running],
        [0, 1, 0],
      )
    } finally {
      running = false
      native.fillStrings = real
    }
  })

  it('property: random tables written by a plain-JS writer read back exactly', async () => {
    const cell = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('a,b', 'x"y', 'l1\nl2', '\r\n', '"', ''))
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }).chain((w) => fc.array(fc.array(cell, { minLength: w, maxLength: w }), { minLength: 1, maxLength: 40 }).map((rows) => [w, rows])),
      fc.constantFrom(',', ';', '\t'),
      fc.constantFrom('\n', '\r\n'),
      async ([w, rows], delimiter, eol) => {
        const header = Array.from({ length: w }, (_, i) => `c${i}`)
        const csv = writeCsv([header, ...rows], { delimiter, eol, quoteAll: true })
        const columns = Object.fromEntries(header.map((h) => [h, 'string']))
        const t = await offload.parseCsv(csv, { delimiter, columns, nullValues: [] })
        assert.equal(t.rows, rows.length)
        rows.forEach((r, i) => r.forEach((s, j) => assert.equal(t.columns[`c${j}`][i], s)))
      },
    ), { numRuns: 300 })
  })

  it('readCsv reads a file in Rust; an abort mid-file rejects at once; fs errors as fs has them', async () => {
    const file = path.join(dir, 'big.csv')
    const rows = tableRows(100_000, 9)
    fs.writeFileSync(file, writeCsv([['id', 'x', 'text', 'n'], ...rows]))
    const t = await offload.readCsv(file, { columns: { x: 'float64', id: 'int32' } })
    assert.equal(t.rows, rows.length)
    assert.equal(t.columns.x[12345], Number(rows[12345][1]))
    const missing = path.join(dir, 'missing.csv')
    await assert.rejects(offload.readCsv(missing), { code: 'ENOENT', syscall: 'open', path: missing })
    const huge = path.join(dir, 'huge.csv')
    const block = writeCsv(rows.slice(0, 20000)) + '\n'
    fs.writeFileSync(huge, 'id,x,text,n\n' + block.repeat(60))
    const controller = new AbortController()
    const call = offload.readCsv(huge, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('enough')), 30)
    await assert.rejects(call, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'enough')
  })
})
