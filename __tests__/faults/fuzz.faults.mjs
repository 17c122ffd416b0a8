// The property tests of src/fuzz.rs (file names, ledger, durations, connection strings, SQL
// splitting, the plan), run with many more cases than `cargo test` gives them every day; the
// figures recorded are what cargo reports. A failing input is kept by proptest in
// proptest-regressions/ and becomes a permanent regression case.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ROOT } from '../helpers.mjs'
import { recordFigures } from './lib.mjs'

const CASES = Number(process.env.GODWIT_FUZZ_CASES ?? 10_000)

test(`the_pure_parsers_survive_${CASES}_generated_inputs_per_property`, () => {
  const t0 = Date.now()
  const r = spawnSync('cargo', ['test', '--quiet', '--lib', 'fuzz::'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, GODWIT_FUZZ_CASES: String(CASES) },
  })
  const out = r.stdout + r.stderr
  assert.equal(r.status, 0, out)
  const m = out.match(/test result: ok\. (\d+) passed; 0 failed/)
  assert.ok(m, out)
  const properties = Number(m[1])
  assert.ok(properties >= 7, `${properties} properties`)
  recordFigures('fuzz', { properties, casesPerProperty: CASES, inputs: properties * CASES, crashes: 0, seconds: Math.round((Date.now() - t0) / 1000) })
})
