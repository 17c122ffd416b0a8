import path from 'node:path'
import godwit from '../../index.js'
import { displayPath, UsageError } from '../cli.mjs'

export const name = 'check'
export const summary =
  'The policy gate: file contract, ledger integrity, immutability after merge, module contract and transaction rules.'
export const positionals = []
export const options = {
  frozen: { type: 'boolean', description: 'never write checksums.json; a stale ledger is a violation (implied when CI is set)' },
  base: { type: 'string', value: '<ref>', description: 'git ref whose migrations count as merged (else MIGRATION_BASE_REF, origin/$GITHUB_BASE_REF, merge-base with origin/HEAD)' },
  'module-timeout': { type: 'string', value: '<ms>', description: 'how long one module may take to import and render (default 10000)' },
}
export const details =
  'Locally, new migrations (not in the base) are sealed into checksums.json and reported.\nIn CI (CI set, not "false"/"0") or with --frozen nothing is written.'

export async function run({ values }, out) {
  let moduleTimeoutMs
  if (values['module-timeout'] !== undefined) {
    moduleTimeoutMs = Number(values['module-timeout'])
    if (!Number.isInteger(moduleTimeoutMs) || moduleTimeoutMs <= 0) {
      throw new UsageError(`--module-timeout takes a positive whole number of milliseconds, got \`${values['module-timeout']}\``)
    }
  }
  const report = await godwit.check({ dir: values.dir, frozen: values.frozen, base: values.base, moduleTimeoutMs })
  if (values.json) {
    out.json(report)
    return report.ok ? 0 : 1
  }
  const c = out.colors
  for (const v of report.violations) {
    const where = displayPath(path.join(report.dir, v.file)) + (v.line ? `:${v.line}` : '')
    out.line(`${where}: ${c.red(v.rule)}: ${v.message} (fix: ${v.hint})`)
  }
  for (const f of report.sealed) out.line(`${displayPath(path.join(report.dir, f))}: ${c.green('sealed')} into checksums.json`)
  for (const f of report.unsealed) out.line(`${f}: ${c.yellow('removed')} from checksums.json (file gone, never merged)`)
  const n = report.migrations.length
  if (report.ok) {
    out.status(c.green(`check: ok, ${n} migration${n === 1 ? '' : 's'} (${report.mode})`))
  } else {
    const files = new Set(report.violations.map((v) => v.file)).size
    out.status(c.red(`check: ${report.violations.length} violation${report.violations.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'} (${report.mode})`))
  }
  return report.ok ? 0 : 1
}
