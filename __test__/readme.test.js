'use strict'

// Runs every ```js example in the README and in docs/ exactly as it stands, each as a file of
// its own (an ES module, so top-level await works as it does for a user), in a fresh Node
// process whose working directory is a new empty folder (as a user's would be), with
// `import ... from 'offload'` resolving to this package (its `exports` make the name resolve
// inside the package, as it does in a user's project once installed).

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { after, it } = require('node:test')

const root = path.join(__dirname, '..')
const pages = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f))]
const examples = pages.flatMap((page) =>
  [...fs.readFileSync(path.join(root, page), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m, i) => ({ page, n: i + 1, code: m[1] })),
)

// Inside the package, so that 'offload' and the dev dependencies (sharp) resolve.
const dir = fs.mkdtempSync(path.join(__dirname, '.readme-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

it('the README and every docs page with an API have examples, each importing what it uses', () => {
  const readme = examples.filter((e) => e.page === 'README.md')
  assert.ok(readme.length >= 8, `${readme.length} README examples`)
  for (const page of ['data', 'hashing', 'compression', 'csv', 'passwords', 'algorithms', 'search', 'images', 'deployment']) {
    assert.ok(examples.some((e) => e.page === path.join('docs', `${page}.md`)), `docs/${page}.md has no example`)
  }
  for (const { page, code } of examples) assert.match(code, /^import /m, `an example in ${page} without its import line:\n${code}`)
})

it('links between the pages point at pages that exist', () => {
  for (const page of pages) {
    const text = fs.readFileSync(path.join(root, page), 'utf8')
    for (const [, target] of text.matchAll(/\]\(((?:docs\/)?[\w./-]+\.md)(?:#[\w-]*)?\)/g)) {
      assert.ok(fs.existsSync(path.join(root, path.dirname(page), target)), `${page} links to ${target}, which does not exist`)
    }
  }
})

for (const { page, n, code } of examples) {
  const title = code.split('\n').find((l) => l.trim() && !l.trim().startsWith('//') && !l.startsWith('import ')) ?? ''
  it(`${page} example ${n} runs as written from an empty folder: ${title.trim().slice(0, 60)}`, { timeout: 120_000 }, () => {
    const file = path.join(dir, `${page.replace(/[/.]/g, '-')}-${n}.mjs`)
    fs.writeFileSync(file, code)
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-example-'))
    try {
      const r = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8' })
      assert.equal(r.status, 0, `${page} example ${n} failed:\n${code}\n${r.stderr}`)
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true })
    }
  })
}

it('npm run docs (TypeDoc over index.d.ts) documents every export', { timeout: 120_000 }, () => {
  const out = path.join(dir, 'api.json')
  const typedoc = path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')
  const r = spawnSync(process.execPath, [typedoc, '--json', out, '--logLevel', 'Error'], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  const documented = new Set(JSON.parse(fs.readFileSync(out, 'utf8')).children.map((c) => c.name))
  const missing = Object.keys(require('..')).filter((name) => !documented.has(name))
  assert.deepEqual(missing, [])
})
