// The goals table in README.md and docs/performance.md is the benchmark's own: what
// bench/goals.mjs makes of the committed result files, with every run of a goal, and a verdict
// that says when runs disagree. Pure: no database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { goalsTable, GOALS, INFLATED_NOTE } from '../bench/goals.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BENCH = path.join(ROOT, 'bench')

const between = (text, name) => {
  const begin = `<!-- ${name}:begin -->\n`
  const end = `\n<!-- ${name}:end -->`
  assert.ok(text.includes(begin) && text.includes(end), `markers for ${name}`)
  return text.slice(text.indexOf(begin) + begin.length, text.indexOf(end))
}

test('README.md and docs/performance.md hold the goals table the result files give', () => {
  const results = readdirSync(BENCH)
    .filter((f) => /^results.*\.json$/.test(f))
    .sort((a, b) => a.length - b.length || a.localeCompare(b))
    .map((f) => ({ file: `bench/${f}`, json: JSON.parse(readFileSync(path.join(BENCH, f), 'utf8')) }))
  const expected = goalsTable(results)
  for (const doc of ['README.md', 'docs/performance.md']) {
    assert.equal(between(readFileSync(path.join(ROOT, doc), 'utf8'), 'goals'), expected, `${doc}: run node bench/readme.mjs`)
  }
})

// `env: null`: a result file from before run.mjs recorded its environment
const run = (date, sizes, env = 'NODE_EXTRA_CA_CERTS not set') => ({ file: `bench/results-${date}.json`, json: { date: `${date}T00:00:00Z`, ...(env === null ? {} : { env }), sizes } })
const rowOf = (table, goal) => table.split('\n').find((l) => l.startsWith(`| ${goal} |`))

test('a goal lists every run newest first, and says when the runs disagree', () => {
  const goal = GOALS.find((g) => g.goal.startsWith('N = 10000, W6'))
  const table = goalsTable([
    run('2026-01-01', { 10000: { [goal.row]: { medianMs: 93 } } }),
    run('2026-02-01', { 10000: { [goal.row]: { medianMs: 38 } } }),
  ])
  assert.equal(rowOf(table, goal.goal), `| ${goal.goal} | 38.0 ms (\`bench/results-2026-02-01.json\`, 2026-02-01); 93.0 ms (\`bench/results-2026-01-01.json\`, 2026-01-01) | newest run: yes; met in 1 of 2 runs |`)
  // the newest run decides what the verdict says first: an old build meeting it is not enough
  const worse = goalsTable([
    run('2026-01-01', { 10000: { [goal.row]: { medianMs: 38 } } }),
    run('2026-02-01', { 10000: { [goal.row]: { medianMs: 45 } } }),
    run('2026-03-01', { 10000: { [goal.row]: { medianMs: 50 } } }),
  ])
  assert.match(rowOf(worse, goal.goal), /\| newest run: no; met in 1 of 3 runs \|$/)
  const none = goalsTable([run('2026-01-01', { 10000: { [goal.row]: { medianMs: 41 } } })])
  assert.match(rowOf(none, goal.goal), /\| no \|$/)
  const all = goalsTable([run('2026-01-01', { 10000: { [goal.row]: { medianMs: 40 } } })])
  assert.match(rowOf(all, goal.goal), /\| yes \|$/)
  assert.match(rowOf(goalsTable([]), goal.goal), /\| not measured \| \|$/)
})

test('a goal with a lower bound, and one computed against another row of the same run', () => {
  const loop = GOALS.find((g) => g.goal.startsWith('W5: the fleet at least 3'))
  const fleet = { 'W5|godwit up --targets (fleet)': { medianMs: 1000 } }
  const fast = goalsTable([run('2026-01-01', { [loop.size]: { ...fleet, [loop.row]: { medianMs: 3500 } } })])
  assert.match(rowOf(fast, loop.goal), /3\.50 × .*\| yes \|$/)
  const slow = goalsTable([run('2026-01-01', { [loop.size]: { ...fleet, [loop.row]: { medianMs: 2500 } } })])
  assert.match(rowOf(slow, loop.goal), /2\.50 × .*\| no \|$/)
  // the other row missing from that run: the goal is not measured, not guessed
  assert.match(rowOf(goalsTable([run('2026-01-01', { [loop.size]: { [loop.row]: { medianMs: 2500 } } })]), loop.goal), /not measured/)
})

test('a run from before the bench cleaned its environment is marked, and does not decide a verdict a clean run can', () => {
  const goal = GOALS.find((g) => g.goal === 'N = 1000, W3 (`status`) at most 1.7 × `node -e 0`')
  const old = run('2026-01-01', { 1000: { [goal.row]: { xNode: 1.5 } } }, null)
  const clean = run('2026-02-01', { 1000: { [goal.row]: { xNode: 2.3 } } })
  const both = goalsTable([old, clean])
  assert.equal(rowOf(both, goal.goal), `| ${goal.goal} | 2.30 × (\`bench/results-2026-02-01.json\`, 2026-02-01); 1.50 × (\`bench/results-2026-01-01.json\`, 2026-01-01) † | no |`)
  assert.ok(both.endsWith(INFLATED_NOTE))
  // only marked runs: they decide, and the mark says why to doubt them
  assert.match(rowOf(goalsTable([old]), goal.goal), /1\.50 × .* † \| yes \|$/)
  // no marked run, no note
  assert.ok(!goalsTable([clean]).includes('†'))
})

test('pnpm bench: --help prints the usage; a bad flag or value says which, with the usage, exit 2 (no stack trace)', async () => {
  const { spawnSync } = await import('node:child_process')
  const bench = (...args) => spawnSync(process.execPath, [path.join(BENCH, 'run.mjs'), ...args], { encoding: 'utf8' })
  const help = bench('--help')
  assert.equal(help.status, 0, help.stderr)
  assert.match(help.stdout, /^usage: pnpm bench .*--workloads/s)
  for (const [args, says] of [[['--bogus'], /Unknown option '--bogus'/], [['--runs', '0'], /--runs 0: a whole number, at least 1/], [['--sizes', '10,x'], /--sizes 10,x: positive whole numbers/], [['--workloads', 'W1,W9'], /--workloads: unknown W9; known: W1/]]) {
    const r = bench(...args)
    assert.equal(r.status, 2, `${args}: ${r.stderr}`)
    assert.match(r.stderr, says)
    assert.match(r.stderr, /usage: pnpm bench/)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  }
})
