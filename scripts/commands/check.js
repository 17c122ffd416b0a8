'use strict'
const path = require('node:path')
const godwit = require('../../index.js')
const { displayPath, EXIT, MODULE_TIMEOUT_OPTION, moduleTimeout, OUTPUT_OPTIONS, output } = require('../cli.js')
const { serverVersionUnlessPinned } = require('../../lib/judged-version.js')

exports.name = 'check'
exports.summary =
  'The policy gate: file contract, ledger integrity, immutability after merge, module contract, SQL safety rules (squawk + isolation + destructive).'
exports.positionals = []
exports.options = {
  frozen: { type: 'boolean', description: 'never write checksums.json; a stale ledger is a violation (implied when CI is set)' },
  base: { type: 'string', value: '<ref>', description: 'git ref whose migrations count as merged (else MIGRATION_BASE_REF, origin/$GITHUB_BASE_REF, merge-base with origin/HEAD)' },
  all: { type: 'boolean', description: 'also render and judge merged, unchanged migrations (e.g. after changing the policy)' },
  ...MODULE_TIMEOUT_OPTION,
  ...OUTPUT_OPTIONS,
}
exports.details = `Locally, new migrations (not in the base) are sealed into checksums.json and reported.
In CI (CI set, not "false"/"0") or with --frozen nothing is written.
Migrations merged and unchanged (their bytes are the base's) were judged when they were merged and
are not rendered or judged again; only their bytes are compared with the base. One that reaches
outside its bytes (imports a helper, reads the environment) is rendered again and held to the
module contract, not the SQL rules. --all judges them all (with it, warnings and waivers on them
are counted in one line, --verbose lists them).
Errors fail the check (exit 1); warnings do not. --quiet prints errors only. Under GitHub Actions
(GITHUB_ACTIONS=true) each finding on a file new or changed relative to the base is also printed as
an ::error/::warning annotation on its file and line.
Migrations up to the configuration's baseline (the legacy history, e.g. after godwit import) keep
the file contract, ledger and immutability but not the SQL safety rules. down SQL is judged only by
session-state (it runs on local databases only).
Policy settings (postgresVersion, destructive, rules) come from package.json#godwit or godwit.config.mjs.
Without postgresVersion, and with connection settings (DATABASE_URL, PGHOST, PGSERVICE), the
server is asked for its version (3 s at most) and SQL is judged for it; else for PostgreSQL 16.`

/**
 * The server's major version when connection settings are given and the project does not set
 * postgresVersion: SQL is judged for the server it will run on. Unreachable in 3 s: the default,
 * said once (check is an offline gate; the database is a hint, never a requirement).
 */
async function serverPostgresVersion(out, progress) {
  const { version, error } = await serverVersionUnlessPinned(godwit)
  if (error && progress) out.status(out.colors.dim(`check: the server was not asked for its version (${error.code}); SQL judged for the default PostgreSQL; set postgresVersion to pin it`))
  return version
}

exports.run = async function run({ values }, out) {
  const { progress, verbose } = output(values)
  const postgresVersion = await serverPostgresVersion(out, progress)
  const report = await godwit.check({ dir: values.dir, frozen: values.frozen, base: values.base, all: values.all, moduleTimeout: moduleTimeout(values), postgresVersion })
  if (progress && postgresVersion) out.status(out.colors.dim(`check: SQL judged for PostgreSQL ${postgresVersion}, the server's (set postgresVersion to pin it)`))
  if (values.json) {
    out.json(report)
    return report.ok ? EXIT.OK : EXIT.NOT_CLEAN
  }
  const c = out.colors
  if (process.env.GITHUB_ACTIONS === 'true') annotate(report, out)
  if (verbose) {
    const base = report.base.commit ? `${report.base.described ?? report.base.commit} (${report.base.commit.slice(0, 12)})` : `none (${report.base.none ?? 'no base ref'})`
    out.status(c.dim(`check: base ${base}; policy: PostgreSQL ${report.policy.postgresVersion}, destructive ${report.policy.destructive}`))
    for (const m of report.migrations) {
      const cfg = m.config
      const how = m.skipped ? 'merged, unchanged: not judged (--all judges it)' : !cfg ? 'not judged' : [
        `${m.upStatements} up statement${m.upStatements === 1 ? '' : 's'}`,
        m.downStatements === undefined ? 'no down' : `${m.downStatements} down`,
        cfg.transaction ? 'transactional' : 'no transaction',
        cfg.lockTimeoutMs !== undefined && `lock_timeout ${cfg.lockTimeoutMs} ms`,
        cfg.statementTimeoutMs !== undefined && `statement_timeout ${cfg.statementTimeoutMs} ms`,
        cfg.destructive && 'declared destructive',
      ].filter(Boolean).join(', ')
      out.status(c.dim(`  ${m.file}: ${how}; sha256 ${m.checksum.slice(0, 12)}`))
    }
  }
  // What a pull request changed is listed in full; findings on merged, unchanged files (warnings,
  // waivers) are history, counted in one line unless --verbose. --quiet prints errors only.
  const changed = new Set(report.changed)
  const listed = (file) => verbose || changed.has(file)
  let unlisted = 0
  for (const v of report.violations) {
    if (v.severity === 'warning' && (values.quiet || !listed(v.file))) {
      unlisted++
      continue
    }
    const where = displayPath(path.join(report.dir, v.file)) + (v.line ? `:${v.line}` : '')
    const sqlAt = v.sql && !v.line ? ` [${v.sql.part} SQL line ${v.sql.line}]` : ''
    const rule = v.severity === 'warning' ? c.yellow(`${v.rule} (warning)`) : c.red(v.rule)
    out.line(`${where}: ${rule}: ${v.message}${sqlAt} (fix: ${v.hint})`)
  }
  let waived = 0
  for (const w of report.waivers) {
    if (values.quiet || !listed(w.file)) {
      waived++
      continue
    }
    out.line(`${displayPath(path.join(report.dir, w.file))}: ${c.yellow('ignored')} ${w.rule} (${w.silenced} finding${w.silenced === 1 ? '' : 's'}): ${w.reason}`)
  }
  if (!values.quiet) {
    for (const f of report.sealed) out.line(`${displayPath(path.join(report.dir, f))}: ${c.green('sealed')} into checksums.json`)
    for (const f of report.unsealed) out.line(`${f}: ${c.yellow('removed')} from checksums.json (file gone, never merged)`)
  }
  if (!progress) return report.ok ? EXIT.OK : EXIT.NOT_CLEAN
  if (report.legacy) {
    out.status(c.dim(`check: legacy history: ${report.legacy.migrations} migration(s) up to ${report.legacy.baseline} (baseline): file contract, ledger and immutability checked; SQL safety rules not applied (they ran before godwit)`))
  }
  const skipped = report.migrations.filter((m) => m.skipped).length
  if (skipped) out.status(c.dim(`check: ${skipped} merged, unchanged migration(s) compared with the base by their bytes, not judged again (--all judges them)`))
  if (unlisted || waived) {
    const parts = [unlisted && `${unlisted} warning(s)`, waived && `${waived} waiver(s)`].filter(Boolean).join(' and ')
    out.status(c.dim(`check: ${parts} on merged, unchanged migrations not listed (--verbose lists them)`))
  }
  const n = report.migrations.length
  const warn = report.warnings ? `, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}` : ''
  if (report.ok) {
    out.status(c.green(`check: ok, ${n} migration${n === 1 ? '' : 's'}${warn} (${report.mode})`))
  } else {
    const files = new Set(report.violations.filter((v) => v.severity === 'error').map((v) => v.file)).size
    out.status(c.red(`check: ${report.errors} error${report.errors === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}${warn} (${report.mode})`))
  }
  return report.ok ? EXIT.OK : EXIT.NOT_CLEAN
}

/** GitHub Actions workflow commands: the finding appears on the file and line in the PR diff. */
function annotate(report, out) {
  const root = process.env.GITHUB_WORKSPACE || process.cwd()
  const prop = (s) => String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C')
  const data = (s) => String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
  // only on what the pull request changed: merged files' findings are not its to fix
  const changed = new Set(report.changed)
  for (const v of report.violations.filter((x) => changed.has(x.file))) {
    const file = path.relative(root, path.join(report.dir, v.file)).split(path.sep).join('/')
    const props = [`file=${prop(file)}`]
    if (v.line) props.push(`line=${v.line}`)
    props.push(`title=${prop(`godwit ${v.rule}`)}`)
    out.raw(`::${v.severity === 'warning' ? 'warning' : 'error'} ${props.join(',')}::${data(`${v.message} (fix: ${v.hint})`)}\n`)
  }
}
