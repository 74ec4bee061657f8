'use strict'

// CSV into typed columns: offload against uDSV (the fastest JS parser, typed-column mode) and
// csv-parse (the most used), on the same numeric-heavy file: 10 columns (an id, an ISO time,
// seven numbers, a status code). csv-parse runs on a tenth of the file (it is ~20x slower);
// rates in MB/s make the rows comparable.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parse: csvParse } = require('csv-parse/sync')
const uDSV = require('udsv')

const offload = require('..')
const { compare, header } = require('./harness.js')

const QUICK = process.env.BENCH_QUICK ? 10 : 1

/** About `bytes` of CSV: id,time,a..g,status. */
function numericCsv(bytes) {
  let x = 12345
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
  const parts = ['id,time,a,b,c,d,e,f,g,status\n']
  let size = parts[0].length
  let t = Date.UTC(2026, 10, 27)
  for (let id = 0; size < bytes; id++) {
    t += Math.floor(rnd() * 1000)
    const line = `${id},${new Date(t).toISOString()},${(rnd() * 1000).toFixed(3)},${(rnd() * 2 - 1).toFixed(6)},${Math.floor(rnd() * 1e6)},${(rnd() * 100).toFixed(2)},${(rnd() * 1e-3).toExponential(4)},${(rnd() * 50).toFixed(1)},${Math.floor(rnd() * 10)},${[200, 200, 200, 404, 500][Math.floor(rnd() * 5)]}\n`
    parts.push(line)
    size += line.length
  }
  return Buffer.from(parts.join(''))
}

async function main() {
  header('CSV into typed columns')
  const data = numericCsv(200e6 / QUICK)
  const text = data.toString('latin1')
  const tenth = text.slice(0, text.indexOf('\n', text.length / 10) + 1)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-csv-'))
  const file = path.join(dir, 'data.csv')
  fs.writeFileSync(file, data)
  const rate = (bytes) => (ms) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`
  const columns = { id: 'uint32', time: 'date', a: 'float64', b: 'float64', c: 'float64', d: 'float64', e: 'float64', f: 'float64', g: 'float64', status: 'category' }
  console.log(`${(data.length / 1e6).toFixed(0)} MB, ${offload.stats ? '' : ''}10 columns; csv-parse on the first ${(tenth.length / 1e6).toFixed(0)} MB\n`)
  const schema = uDSV.inferSchema(text.slice(0, 100_000))
  await compare(`parse ${(data.length / 1e6).toFixed(0)} MB of numeric CSV`, [
    ['uDSV typedCols (main thread)', () => uDSV.initParser(schema).typedCols(text)],
    ['offload.parseCsv, inferred (float64 / string)', () => offload.parseCsv(data)],
    ['offload.parseCsv, typed columns', () => offload.parseCsv(data, { columns })],
    ['offload.readCsv, typed columns (file)', () => offload.readCsv(file, { columns })],
  ], { reps: 3, unit: rate(data.length) })
  await compare(`parse the first ${(tenth.length / 1e6).toFixed(0)} MB`, [
    ['csv-parse sync, cast (main thread)', () => csvParse(tenth, { columns: true, cast: true })],
    ['uDSV typedCols (main thread)', () => uDSV.initParser(schema).typedCols(tenth)],
    ['offload.parseCsv, typed columns', () => offload.parseCsv(tenth, { columns })],
  ], { reps: 3, unit: rate(tenth.length) })
  // Strings are made on the main thread: what a million of them cost there.
  const strings = 'name\n' + Array.from({ length: 1e6 }, (_, i) => `user-${i % 50000}-${i}`).join('\n')
  const t0 = performance.now()
  await offload.parseCsv(strings, { columns: { name: 'string' } })
  const withStrings = performance.now() - t0
  const t1 = performance.now()
  await offload.parseCsv(strings, { columns: { name: 'category' } })
  const withCategory = performance.now() - t1
  console.log(`1,000,000 distinct strings: parseCsv as 'string' ${withStrings.toFixed(0)} ms, as 'category' ${withCategory.toFixed(0)} ms (wall time, string creation on the main thread included)\n`)
  fs.rmSync(dir, { recursive: true, force: true })
}

module.exports = main
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1) })
