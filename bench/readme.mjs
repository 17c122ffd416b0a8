// Writes the performance tables of docs/performance.md (between `<!-- bench:begin -->` and `<!-- bench:end -->`)
// and the goals table (between `<!-- goals:begin -->` and `<!-- goals:end -->`, there and in README.md)
// from bench/results*.json, so the figures there are the benchmark's own, with its date and machine.
// Usage: node bench/readme.mjs [results.json ...]   (default: every bench/results*.json)
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { table } from './table.mjs'
import { goalsTable } from './goals.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const DOC = path.join(BENCH, '..', 'docs', 'performance.md')
const README = path.join(BENCH, '..', 'README.md')
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(BENCH).filter((f) => /^results.*\.json$/.test(f)).sort((a, b) => a.length - b.length || a.localeCompare(b)).map((f) => path.join(BENCH, f))

const parts = []
const results = []
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8'))
  const shown = path.relative(path.join(BENCH, '..'), file)
  results.push({ file: shown, json: r })
  parts.push(`\`${shown}\`: ${r.date.slice(0, 10)}${r.build ? `, build ${r.build}` : ''}, ${r.machine}, PostgreSQL ${r.postgres}, Node ${r.node}` + (r.command ? `; \`${r.command}\`` : ''))
  for (const [n, summary] of Object.entries(r.sizes)) parts.push(table(n, summary))
}

/** `text` with what lies between the `name` markers replaced by `body`. */
function between(text, name, body, where) {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  if (!text.includes(begin) || !text.includes(end)) throw new Error(`${where} lacks ${begin} ... ${end}`)
  return text.slice(0, text.indexOf(begin) + begin.length) + '\n' + body + '\n' + text.slice(text.indexOf(end))
}

const goals = goalsTable(results)
writeFileSync(DOC, between(between(readFileSync(DOC, 'utf8'), 'bench', parts.join('\n\n'), 'docs/performance.md'), 'goals', goals, 'docs/performance.md'))
writeFileSync(README, between(readFileSync(README, 'utf8'), 'goals', goals, 'README.md'))
process.stderr.write(`bench: docs/performance.md tables and the goals in README.md rewritten from ${files.length} result file(s)\n`)
