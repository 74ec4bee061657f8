'use strict'

// `npm run bench`: every benchmark, one after another. `npm run bench -- data` runs one family.
// BENCH_REPS sets the runs per measurement; BENCH_QUICK=1 uses a tenth of the sizes.

const families = {
  data: require('./data.js'),
  hash: require('./hash.js'),
  algo: require('./algo.js'),
  image: require('./image.js'),
  compress: require('./compress.js'),
  csv: require('./csv.js'),
  search: require('./search.js'),
  password: require('./password.js'),
  abort: require('./abort.js'),
}

async function main() {
  const wanted = process.argv.slice(2)
  for (const [name, run] of Object.entries(families)) {
    if (wanted.length && !wanted.includes(name)) continue
    await run()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
