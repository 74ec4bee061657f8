'use strict'

// `npm run demo:server`: starts examples/server/server.js once per mode and measures it with
// autocannon on 127.0.0.1 (bounded runs): `/ping` at a fixed rate, alone (idle) and while
// the heavy endpoints are kept busy; prints `/ping` p50/p99, heavy requests per second and the
// server's own event-loop delay p99 per mode.
//
// Then the sign-in path: for each password library, 32 connections POST /login while /ping is
// measured the same way; prints logins per second, /ping p99, the event-loop delay p99 and
// the p99 of a small fs.readFile the server repeats meanwhile (libuv's pool at work).
//
// DEMO_SECONDS (default 8) per mode; DEMO_MODES (default "idle,plain,piscina,offload");
// DEMO_LOGINS (default "offload,@node-rs/argon2,argon2,bcryptjs"; empty skips the logins).
// Any other environment (OFFLOAD_THREADS, OFFLOAD_NICE...) passes through to the server.

const { spawn } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const autocannon = require('autocannon')

const SECONDS = Number(process.env.DEMO_SECONDS) || 8
const MODES = (process.env.DEMO_MODES || 'idle,plain,piscina,offload').split(',')
const PING_RATE = 50 // requests per second, from one connection
const HEAVY_CONNECTIONS = 6
const BODY = Buffer.alloc(4 << 20, 'offload') // the upload /hash receives

/** Starts server.js with MODE `mode` ('idle' runs offload) on a free port: { child, url }. */
function start(mode, env = {}) {
  const passwords = env.PASSWORDS ?? 'offload'
  const child = spawn(process.execPath, [path.join(__dirname, 'server.js')], {
    env: { ...process.env, ...env, PASSWORDS: passwords, MODE: mode === 'idle' ? 'offload' : mode, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stderr.on('data', (d) => { out += d })
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on (\d+)/.exec(out)
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` })
    })
    child.once('exit', (code) => reject(new Error(`server (${mode}) exited with ${code}: ${out}`)))
  })
}

const run = (options) => new Promise((resolve, reject) => {
  autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
})

async function get(url) {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return res.json()
}

async function measure(mode) {
  const { child, url } = await start(mode)
  try {
    // One of each heavy request first: pools start, code warms up.
    await get(`${url}/stats`)
    await fetch(`${url}/hash`, { method: 'POST', body: BODY })
    await get(`${url}/resize`)
    await fetch(`${url}/export`, { headers: { 'accept-encoding': 'gzip' } }).then((r) => r.arrayBuffer())
    await get(`${url}/event-loop`) // resets the server's histogram
    // In a worker thread of its own, so that the heavy load's client (4 MiB bodies) never delays
    // the ping client's event loop and inflates what it measures.
    const ping = run({ url: `${url}/ping`, connections: 1, overallRate: PING_RATE, duration: SECONDS, workers: 1 })
    const heavy = mode === 'idle'
      ? null
      : run({
        url,
        connections: HEAVY_CONNECTIONS,
        duration: SECONDS,
        timeout: 60,
        requests: [
          { method: 'GET', path: '/stats' },
          { method: 'POST', path: '/hash', body: BODY },
          { method: 'GET', path: '/resize' },
          { method: 'GET', path: '/export', headers: { 'accept-encoding': 'gzip' } },
        ],
      })
    const [p, h] = await Promise.all([ping, heavy])
    const loop = await get(`${url}/event-loop`)
    return {
      mode,
      p50: p.latency.p50,
      p99: p.latency.p99,
      pingErrors: p.errors + p.timeouts + p.non2xx,
      heavy: h ? h.requests.average : null,
      heavyErrors: h ? h.errors + h.timeouts + h.non2xx : 0,
      loopP99: loop.p99,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
  }
}

const LOGINS = (process.env.DEMO_LOGINS ?? 'offload,@node-rs/argon2,argon2,bcryptjs').split(',').filter(Boolean)
const LOGIN_CONNECTIONS = 32
const LOGIN_LABELS = {
  offload: 'offload.verifyPassword (argon2id)',
  '@node-rs/argon2': '@node-rs/argon2 verify (argon2id, libuv pool)',
  argon2: 'argon2 verify (argon2id, libuv pool)',
  bcryptjs: 'bcryptjs compare (cost 12, main thread)',
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

/** 32 connections logging in (argon2id at OWASP's parameters, or bcryptjs at cost 12). */
async function measureLogins(passwords) {
  const { child, url } = await start('offload', { PASSWORDS: passwords })
  try {
    const user = { user: 'ada', password: 'correct horse battery staple' }
    if ((await post(`${url}/signup`, user)).status !== 201) throw new Error('signup failed')
    if ((await post(`${url}/login`, user)).status !== 200) throw new Error('login failed')
    await get(`${url}/event-loop`) // resets the server's histograms
    const ping = run({ url: `${url}/ping`, connections: 1, overallRate: PING_RATE, duration: SECONDS, workers: 1 })
    const logins = run({
      url: `${url}/login`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(user),
      connections: LOGIN_CONNECTIONS,
      duration: SECONDS,
      timeout: 60,
    })
    const [p, l] = await Promise.all([ping, logins])
    const loop = await get(`${url}/event-loop`)
    return {
      passwords,
      perSecond: l.requests.average,
      errors: l.errors + l.timeouts + l.non2xx + p.errors + p.timeouts + p.non2xx,
      // No /ping answered during the run (the event loop never came back): no latency to show.
      p99: p.requests.total > 0 ? p.latency.p99 : null,
      loopP99: loop.p99,
      readFileP99: loop.readFileP99,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
  }
}

const LABELS = {
  idle: 'idle (no heavy load)',
  plain: 'plain JS on the main thread',
  piscina: 'the same JS in piscina',
  offload: 'offload',
}

async function main() {
  console.log(`${os.cpus()[0].model}, ${os.availableParallelism()} cores, Node ${process.version}; ${SECONDS} s per mode`)
  console.log(`/ping at ${PING_RATE}/s while ${HEAVY_CONNECTIONS} connections loop over /stats, POST /hash (4 MiB), /resize, /export (8 MiB, gzip)\n`)
  const rows = []
  for (const mode of MODES) {
    const r = await measure(mode)
    rows.push(r)
    const errors = r.pingErrors + r.heavyErrors
    console.error(`  ${mode}: done${errors ? ` (${errors} errors or timeouts)` : ''}`)
  }
  console.log('| server | /ping p50 | /ping p99 | heavy requests/s | event-loop delay p99 |')
  console.log('|---|---:|---:|---:|---:|')
  for (const r of rows) {
    const heavy = r.heavy === null ? '-' : r.heavy.toFixed(1)
    console.log(`| ${LABELS[r.mode] ?? r.mode} | ${r.p50} ms | ${r.p99} ms | ${heavy} | ${r.loopP99} ms |`)
  }
  if (LOGINS.length === 0) return
  console.log(`\nPOST /login from ${LOGIN_CONNECTIONS} connections, /ping at ${PING_RATE}/s, fs.readFile of a small file every 10 ms in the server\n`)
  const logins = []
  for (const passwords of LOGINS) {
    const r = await measureLogins(passwords)
    logins.push(r)
    console.error(`  logins with ${passwords}: done${r.errors ? ` (${r.errors} errors or timeouts)` : ''}`)
  }
  console.log('| password hashing | logins/s | /ping p99 | event-loop delay p99 | fs.readFile p99 |')
  console.log('|---|---:|---:|---:|---:|')
  for (const r of logins) {
    const ping = r.p99 === null ? `none answered in ${SECONDS} s` : `${r.p99} ms`
    console.log(`| ${LOGIN_LABELS[r.passwords] ?? r.passwords} | ${r.perSecond.toFixed(1)} | ${ping} | ${r.loopP99} ms | ${r.readFileP99} ms |`)
  }
}

module.exports = { start }

if (require.main === module) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
