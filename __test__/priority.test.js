'use strict'

// niceIncrement: the pool's threads run that many nice levels below the process (Linux),
// read back from /proc, independently of the addon.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const { describe, it } = require('node:test')

const offload = require('..')

const linux = process.platform === 'linux'

/** The nice value of each live thread named offload-N, from /proc/self/task/<tid>/stat. */
function poolNiceValues() {
  const values = []
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let comm
    let stat
    try {
      comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()
      stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    } catch {
      continue // the thread ended
    }
    if (!/^offload-\d+$/.test(comm)) continue
    // Fields after "(comm) ": state is field 3, nice is field 19.
    values.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
  }
  return values
}

const processNice = () => Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[16])
const work = () => offload.describe(new Float64Array(1 << 20))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until every pool thread has `nice` (a replaced pool's threads exit when idle). */
async function poolAt(nice) {
  for (let i = 0; i < 100; i++) {
    await work()
    const values = poolNiceValues()
    if (values.length > 0 && values.every((v) => v === nice)) return values
    await sleep(10)
  }
  assert.fail(`pool threads at ${JSON.stringify(poolNiceValues())}, expected all ${nice}`)
}

describe('niceIncrement', { skip: !linux && 'Linux only' }, () => {
  it('defaults to 10 below the process', async () => {
    assert.equal(offload.configure().niceIncrement, 10)
    const values = await poolAt(Math.min(19, processNice() + 10))
    assert.equal(values.length, offload.configure().threads)
  })

  it('raising re-prioritises the running threads', async () => {
    const before = poolNiceValues().length
    assert.equal(offload.configure({ niceIncrement: 15 }).niceIncrement, 15)
    // At once, without new threads.
    const values = poolNiceValues()
    assert.equal(values.length, before)
    assert.ok(values.every((v) => v === Math.min(19, processNice() + 15)), JSON.stringify(values))
  })

  it('lowering starts threads at the new priority', async () => {
    offload.configure({ niceIncrement: 0 })
    await poolAt(processNice())
    offload.configure({ niceIncrement: 3 })
    await poolAt(processNice() + 3)
  })

  it('threads started later (a resized pool) get it too', async () => {
    const threads = offload.configure().threads
    offload.configure({ niceIncrement: 7, threads: threads === 1 ? 2 : 1 })
    await poolAt(processNice() + 7)
    offload.configure({ threads })
    await poolAt(processNice() + 7)
  })

  it('bad values are Node-style errors and change nothing', () => {
    const before = offload.configure()
    assert.throws(() => offload.configure({ niceIncrement: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /options\.niceIncrement/ })
    assert.throws(() => offload.configure({ niceIncrement: 20 }), { code: 'ERR_OUT_OF_RANGE' })
    assert.throws(() => offload.configure({ niceIncrement: 2.5 }), { code: 'ERR_OUT_OF_RANGE' })
    assert.throws(() => offload.configure({ niceIncrement: '5' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => offload.configure({ niceIncrement: 5, threads: 0 }), { code: 'ERR_OUT_OF_RANGE' })
    assert.deepEqual(offload.configure(), before)
  })
})
