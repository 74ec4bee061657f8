'use strict'

// Runs a short workload of every operation under valgrind's memcheck and reports definite
// leaks whose allocation stack passes through the addon. Node itself keeps some memory until
// exit on purpose; only blocks the addon allocated and lost count. Exits 1 on any.
// Part of `npm run soak`; needs valgrind (Debian's `valgrind` package).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const addon = fs.readdirSync(path.join(__dirname, '..')).find((f) => f.endsWith('.node'))
const log = path.join(os.tmpdir(), `offload-valgrind-${process.pid}.log`)

const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' })
if (probe.status !== 0) {
  console.error('valgrind is not installed (apt-get install valgrind); skipping the leak check')
  process.exit(process.env.CI ? 1 : 0)
}

const started = Date.now()
const r = spawnSync(
  'valgrind',
  [
    '--tool=memcheck',
    '--leak-check=full',
    '--show-leak-kinds=definite',
    '--errors-for-leak-kinds=definite',
    '--smc-check=all-non-file', // V8 writes machine code at run time
    '--num-callers=40',
    `--log-file=${log}`,
    process.execPath,
    path.join(__dirname, 'leak-run.js'),
    process.argv[2] || '10',
  ],
  { encoding: 'utf8', timeout: 1_800_000 },
)
const text = fs.readFileSync(log, 'utf8')
fs.rmSync(log, { force: true })
if (r.status !== 0 || !/leak-run: \d+ calls done/.test(r.stdout)) {
  console.error(r.stdout, r.stderr, text.slice(-4000))
  console.error(`the workload failed under valgrind (status ${r.status}, signal ${r.signal})`)
  process.exit(1)
}

// Loss records: "N bytes in M blocks are definitely lost in loss record X of Y", then the stack.
const records = text.split(/\n==\d+== \n/).filter((block) => /are definitely lost/.test(block))
// One napi reference (40 bytes) made while the module registers its class, once per loaded
// environment, is never freed for the main environment: Node does not tear that one down at
// exit. It does not grow with calls, so it is reported apart from the rest.
const atLoad = (block) => block.includes('napi_register_module_v1')
const ours = records.filter((block) => block.includes(addon) && !atLoad(block))
const once = records.filter((block) => block.includes(addon) && atLoad(block))
const bytes = (blocks) => blocks.reduce((sum, b) => sum + Number(/([\d,]+) bytes in/.exec(b)[1].replace(/,/g, '')), 0)
const summary = /definitely lost: .*/.exec(text)
console.log(`valgrind memcheck, ${r.stdout.trim()} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log(`  whole process: ${summary ? summary[0] : 'definitely lost: 0 bytes'}`)
console.log(`  through the addon (${addon}) while loading, once: ${bytes(once)} bytes in ${once.length} loss records`)
console.log(`  through the addon while working: ${bytes(ours)} bytes in ${ours.length} loss records`)
if (ours.length > 0) {
  for (const block of ours) console.error(block)
  process.exit(1)
}
console.log('ok: no definite leak from the addon')
