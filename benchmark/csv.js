'use strict'

// CSV into typed columns, and a group-by of the result, on the same log-like file: an id, an
// ISO time, seven numbers, a status code and a route (20 values). offload against the Python
// readers people compare with (pyarrow, pandas, polars, duckdb; in a venv this benchmark makes
// under node_modules/.cache, or skipped with a note when Python or PyPI is missing), uDSV (the
// fastest JS parser) and csv-parse (the most used; on a tenth of the file). The group-by is
// checked against pandas' result and timed against polars, pandas and a plain-JS loop.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parse: csvParse } = require('csv-parse/sync')
const uDSV = require('udsv')

const offload = require('..')
const { compare, header, measure } = require('./harness.js')

const QUICK = process.env.BENCH_QUICK ? 10 : 1
const THREADS = os.availableParallelism()
const ROUTES = Array.from({ length: 20 }, (_, i) => `/api/v${1 + (i % 3)}/${['users', 'orders', 'items', 'search', 'login', 'cart', 'pay'][i % 7]}/${i}`)

/** About `bytes` of log-like CSV: id,time,a..g,status,route. */
function logCsv(bytes) {
  let x = 12345
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
  const parts = ['id,time,a,b,c,d,e,latency,g,status,route\n']
  let size = parts[0].length
  let t = Date.UTC(2026, 10, 27)
  for (let id = 0; size < bytes; id++) {
    t += Math.floor(rnd() * 1000)
    const line = `${id},${new Date(t).toISOString()},${(rnd() * 1000).toFixed(3)},${(rnd() * 2 - 1).toFixed(6)},${Math.floor(rnd() * 1e6)},${(rnd() * 100).toFixed(2)},${(rnd() * 1e-3).toExponential(4)},${(rnd() ** 3 * 500).toFixed(1)},${Math.floor(rnd() * 10)},${[200, 200, 200, 404, 500][Math.floor(rnd() * 5)]},${ROUTES[Math.floor(rnd() * 20)]}\n`
    parts.push(line)
    size += line.length
  }
  return Buffer.from(parts.join(''))
}

/** A Python with pyarrow, pandas, polars and duckdb: made once in node_modules/.cache. */
function pythonPeers() {
  const venv = path.join(__dirname, '..', 'node_modules', '.cache', 'offload-bench-venv')
  const python = path.join(venv, 'bin', 'python')
  const ready = path.join(venv, '.ready')
  if (fs.existsSync(ready)) return { python }
  const system = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0)
  if (!system) return { note: 'no Python on this machine' }
  console.log('Making a Python venv with pyarrow, pandas, polars and duckdb (once) ...')
  let r = spawnSync(system, ['-m', 'venv', venv], { stdio: 'inherit' })
  if (r.status !== 0) return { note: `python -m venv failed (${r.status})` }
  r = spawnSync(python, ['-m', 'pip', 'install', '-q', 'pyarrow', 'pandas', 'polars', 'duckdb'], { stdio: 'inherit' })
  if (r.status !== 0) return { note: `pip install failed (${r.status}): PyPI unreachable?` }
  fs.writeFileSync(ready, '')
  return { python }
}

function peers(python, file, reps, extra = []) {
  const out = execFileSync(python, [path.join(__dirname, 'csv_peers.py'), file, String(reps), String(THREADS), ...extra], { maxBuffer: 64 << 20, encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop())
}

/** The best plain-JS group-by of a category column: one pass into per-code accumulators. */
function plainGroupBy(codes, values, groups) {
  const n = new Float64Array(groups)
  const sum = new Float64Array(groups)
  const min = new Float64Array(groups).fill(Infinity)
  const max = new Float64Array(groups).fill(-Infinity)
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]
    const x = values[i]
    if (c === 0xffffffff || x !== x) continue
    n[c]++
    sum[c] += x
    if (x < min[c]) min[c] = x
    if (x > max[c]) max[c] = x
  }
  const mean = sum.map((s, i) => s / n[i])
  const m2 = new Float64Array(groups)
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]
    const x = values[i]
    if (c === 0xffffffff || x !== x) continue
    m2[c] += (x - mean[c]) ** 2
  }
  return { n, sum, mean, min, max, std: m2.map((s, i) => Math.sqrt(s / (n[i] - 1))) }
}

async function main() {
  header('CSV into typed columns, and a group-by')
  const data = logCsv(245e6 / QUICK)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-csv-'))
  const file = path.join(dir, 'logs.csv')
  fs.writeFileSync(file, data)
  const mb = (data.length / 1e6).toFixed(0)
  const rows = data.toString('latin1').split('\n').length - 2
  console.log(`${mb} MB, ${rows.toLocaleString('en')} rows of 11 columns (an id, an ISO time, 7 numbers, a status, a route of 20 values), ${THREADS} threads for every multi-threaded reader\n`)
  const types = { id: 'uint32', time: 'date', a: 'float64', b: 'float64', c: 'float64', d: 'float64', e: 'float64', latency: 'float64', g: 'float64', status: 'category', route: 'category' }
  const reps = QUICK > 1 ? 3 : 5

  // The Python readers first (their own process, the same file, the same run).
  const py = pythonPeers()
  let peer = null
  if (py.python) {
    try {
      peer = peers(py.python, file, reps, ['--groupby', 'route', 'latency'])
      console.log(`Python peers: ${Object.entries(peer.versions).map(([k, v]) => `${k} ${v}`).join(', ')}${Object.keys(peer.errors).length ? `; failed: ${JSON.stringify(peer.errors)}` : ''}\n`)
    } catch (e) {
      console.log(`Python peers failed: ${e.message.split('\n')[0]}\n`)
    }
  } else {
    console.log(`Python peers skipped: ${py.note}\n`)
  }
  const inferred = await measure(() => offload.readCsv(file), reps)
  const typed = await measure(() => offload.readCsv(file, { columns: types }), reps)
  const parsed = await measure(() => offload.parseCsv(data), reps)
  const t = await offload.readCsv(file)
  console.log(`offload infers: ${JSON.stringify(t.types)}\n`)
  const base = peer?.read.pyarrow
  console.log(`| read ${mb} MB of log CSV | median | vs pyarrow | loop delay p99 |`)
  console.log('|---|---:|---:|---:|')
  const row = (label, ms, p99) => console.log(`| ${label} | ${ms === undefined ? 'not available' : `${ms.toFixed(0)} ms`} | ${ms !== undefined && base ? `${(ms / base).toFixed(2)}x` : ''} | ${p99 === undefined ? '(own process)' : `${p99.toFixed(1)} ms`} |`)
  row(`pyarrow.csv.read_csv (${THREADS} threads)`, peer?.read.pyarrow)
  row('pandas.read_csv (C engine, one thread)', peer?.read.pandas)
  row(`pandas.read_csv(engine='pyarrow')`, peer?.read['pandas-pyarrow'])
  row(`duckdb read_csv (${THREADS} threads)`, peer?.read.duckdb)
  row(`polars.read_csv (${THREADS} threads, try_parse_dates)`, peer?.read.polars)
  row('offload readCsv, types inferred', inferred.ms, inferred.p99)
  row('offload readCsv, every column typed', typed.ms, typed.p99)
  row('offload parseCsv (bytes in memory), types inferred', parsed.ms, parsed.p99)
  console.log()

  // The JS parsers, on the same text.
  const text = data.toString('latin1')
  const tenth = text.slice(0, text.indexOf('\n', text.length / 10) + 1)
  const rate = (bytes) => (ms) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`
  const schema = uDSV.inferSchema(text.slice(0, 100_000))
  await compare(`parse ${mb} MB (JS parsers)`, [
    ['uDSV typedCols (main thread)', () => uDSV.initParser(schema).typedCols(text)],
    ['offload.parseCsv, types inferred', () => offload.parseCsv(data)],
    ['offload.parseCsv, typed columns', () => offload.parseCsv(data, { columns: types })],
  ], { reps: 3, unit: rate(data.length) })
  await compare(`parse the first ${(tenth.length / 1e6).toFixed(0)} MB`, [
    ['csv-parse sync, cast (main thread)', () => csvParse(tenth, { columns: true, cast: true })],
    ['offload.parseCsv, typed columns', () => offload.parseCsv(tenth, { columns: types })],
  ], { reps: 3, unit: rate(tenth.length) })

  // Group-by: latency per route, checked against pandas.
  const route = t.columns.route
  const latency = t.columns.latency
  const aggregations = ['count', 'sum', 'mean', 'min', 'max', 'std']
  const g = await offload.groupBy(route, { latency }, { aggregations, quantiles: [0.5, 0.99] })
  if (peer?.pandas_result) {
    const want = peer.pandas_result
    const order = want.keys.map((k) => g.keys.indexOf(k))
    assert.ok(order.every((i) => i >= 0), 'the same groups as pandas')
    const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))
    for (const a of aggregations) order.forEach((i, j) => assert.ok(close(g.columns.latency[a][i], want[a][j]), `${a} of ${want.keys[j]}: ${g.columns.latency[a][i]} vs pandas ${want[a][j]}`))
    order.forEach((i, j) => assert.ok(close(g.columns.latency.quantiles[0][i], want.q50[j]) && close(g.columns.latency.quantiles[1][i], want.q99[j]), `quantiles of ${want.keys[j]}`))
    console.log(`groupBy(route, latency) equals pandas' groupby().agg() for ${order.length} groups (count, sum, mean, min, max, std within 1e-9; quantiles 0.5 and 0.99)\n`)
  }
  const off = await measure(() => offload.groupBy(route, { latency }, { aggregations }), reps)
  const offQ = await measure(() => offload.groupBy(route, { latency }, { aggregations, quantiles: [0.5, 0.99] }), reps)
  const plain = await measure(() => plainGroupBy(route.codes, latency, route.values.length), reps)
  const polars = peer?.groupby.polars
  console.log(`| group-by of ${rows.toLocaleString('en')} rows: latency per route (20 groups) | median | vs polars | vs plain JS | loop delay p99 |`)
  console.log('|---|---:|---:|---:|---:|')
  const grow = (label, ms, p99) => console.log(`| ${label} | ${ms === undefined ? 'not available' : `${ms.toFixed(1)} ms`} | ${ms !== undefined && polars ? `${(ms / polars).toFixed(2)}x` : ''} | ${ms !== undefined ? `${(plain.ms / ms).toFixed(1)}x faster` : ''} | ${p99 === undefined ? '(own process)' : `${p99.toFixed(1)} ms`} |`)
  grow(`polars group_by().agg() (${THREADS} threads): count, sum, mean, min, max, std`, polars)
  grow('pandas groupby().agg() (one thread)', peer?.groupby.pandas)
  grow('plain JS, two passes over codes and values (main thread)', plain.ms, plain.p99)
  grow('offload groupBy: count, sum, mean, min, max, std', off.ms, off.p99)
  grow('polars, the same + quantiles 0.5, 0.99', peer?.groupby['polars quantiles'])
  grow('pandas quantile([0.5, 0.99]) alone', peer?.groupby['pandas quantiles'])
  grow('offload groupBy, the same + quantiles 0.5, 0.99', offQ.ms, offQ.p99)
  console.log()

  // Strings are made on the main thread: what distinct values cost there.
  const distinct = 'name\n' + Array.from({ length: 3e6 / QUICK }, (_, i) => `user-${i}-${(i * 7919) % 100_003}`).join('\n')
  const asString = await measure(() => offload.parseCsv(distinct, { columns: { name: 'string' } }), 3)
  const asCategory = await measure(() => offload.parseCsv(distinct, { columns: { name: 'category' } }), 3)
  const asInferred = await measure(() => offload.parseCsv(distinct), 3)
  console.log(`${(3e6 / QUICK).toLocaleString('en')} distinct strings: parseCsv as 'string' ${asString.ms.toFixed(0)} ms (loop p99 ${asString.p99.toFixed(0)} ms), as 'category' ${asCategory.ms.toFixed(0)} ms (loop p99 ${asCategory.p99.toFixed(0)} ms), inferred ${asInferred.ms.toFixed(0)} ms (wall time, string creation on the main thread included)\n`)
  fs.rmSync(dir, { recursive: true, force: true })
}

module.exports = main
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1) })
