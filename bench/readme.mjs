// Writes the performance tables of docs/performance.md (between `<!-- bench:begin -->` and `<!-- bench:end -->`)
// from bench/results*.json, so the figures there are the benchmark's own, with its date and machine.
// Usage: node bench/readme.mjs [results.json ...]   (default: every bench/results*.json)
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { table } from './table.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const README = path.join(BENCH, '..', 'docs', 'performance.md')
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(BENCH).filter((f) => /^results.*\.json$/.test(f)).sort((a, b) => a.length - b.length || a.localeCompare(b)).map((f) => path.join(BENCH, f))

const parts = []
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8'))
  parts.push(`\`${path.relative(path.join(BENCH, '..'), file)}\`: ${r.date.slice(0, 10)}, ${r.machine}, PostgreSQL ${r.postgres}, Node ${r.node}` + (r.command ? `; \`${r.command}\`` : ''))
  for (const [n, summary] of Object.entries(r.sizes)) parts.push(table(n, summary))
}
const text = readFileSync(README, 'utf8')
const begin = '<!-- bench:begin -->'
const end = '<!-- bench:end -->'
if (!text.includes(begin) || !text.includes(end)) throw new Error(`docs/performance.md lacks ${begin} ... ${end}`)
const next = text.slice(0, text.indexOf(begin) + begin.length) + '\n' + parts.join('\n\n') + '\n' + text.slice(text.indexOf(end))
writeFileSync(README, next)
process.stderr.write(`bench: docs/performance.md tables rewritten from ${files.length} result file(s)\n`)
