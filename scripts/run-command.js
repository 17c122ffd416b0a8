'use strict'
// What up, down and reset share on the command line: their history and report flags, the options
// they hand the API, and how a run's report becomes output and an exit code. (status shares the
// history flags.)
const interrupt = require('./interrupt.js')
const { deployed, isSet } = require('../lib/where.js')
const { MODULE_TIMEOUT_OPTION, moduleTimeout, notWritten, OUTPUT_OPTIONS, output, runExit } = require('./cli.js')

const HISTORY_OPTIONS = {
  schema: { type: 'string', value: '<name>', description: 'schema of the history table (default public, env MIGRATION_HISTORY_SCHEMA)' },
  table: { type: 'string', value: '<name>', description: 'history table (default godwit_migrations, env MIGRATION_HISTORY_TABLE)' },
}

/** The flags of a locked run that writes `<root>/<sha>/<reportFile>`. */
function runFlags(reportFile) {
  return {
    ...HISTORY_OPTIONS,
    sha: { type: 'string', value: '<sha>', description: 'release sha for the report path (else GIT_SHA, GITHUB_SHA, git HEAD, "local")' },
    'artifacts-dir': { type: 'string', path: true, value: '<path>', description: `report root (default .artifacts/deploy); the report is <root>/<sha>/${reportFile}` },
    ...OUTPUT_OPTIONS,
    ...MODULE_TIMEOUT_OPTION,
  }
}

/** The API options those flags stand for; a signal cancels the run (see interrupt.js). */
function runOptions(values) {
  return {
    dir: values.dir,
    schema: values.schema,
    table: values.table,
    sha: values.sha,
    artifactsDir: values['artifacts-dir'],
    ...output(values),
    moduleTimeout: moduleTimeout(values),
    signal: interrupt.signal,
  }
}

/**
 * After a run that changed a local database (not in CI, production or the migration job, and
 * only when the server is this machine's), the schema file follows it, so the migration and the
 * schema it builds are reviewed together. Never fails the run: a problem is a note.
 */
async function followSchema(report, values, out) {
  const env = process.env
  if (!report.ok || !changedAny(report) || isSet(env.CI) || deployed(env)) return
  try {
    const s = await require('../index.js').schemaFile({ dir: values.dir, schema: values.schema, table: values.table, write: true })
    if (s.written && !values.quiet) out.status(out.colors.dim(`schema: wrote ${s.path}`))
  } catch (err) {
    if (!values.quiet) out.status(out.colors.yellow(`note: the schema file was not written (${err.code}: ${err.message.split('\n')[0]})`))
  }
}

/**
 * Prints the report (`--json`) or its one-line outcome, then the report path; the exit code. A
 * report that could not be written is still printed in full (what was applied must be known),
 * and the run then exits REPORT_NOT_WRITTEN's code unless it failed for its own reason first.
 */
function finishRun(command, report, values, out, success) {
  if (values.json) out.json(report)
  const c = out.colors
  if (report.ok) out.status(c.green(success(report)))
  else out.status(c.red(`${command}: ${report.outcome} [${report.error?.code}] ${report.error?.message ?? ''}`))
  if (report.reportError) {
    const states = report.migrations.filter((m) => m.state !== 'already-applied' && m.state !== 'pending')
    notWritten(command, report, report.reportError, values, out)
    for (const m of states) out.status(`  ${m.state} ${m.file ?? m.version}`)
    return runExit(report)
  }
  out.status(c.dim(`report: ${report.reportPath}`))
  // asked only after a run that changed something (a git process costs a no-op run ~5 ms)
  if (!values.quiet && changedAny(report) && report.reportPath && unignored(report.reportPath)) {
    out.status(c.yellow(`note: git does not ignore ${report.reportPath}: add .artifacts/ to .gitignore (reports are per run, not source)`))
  }
  return runExit(report)
}

/**
 * Whether the run applied or reverted a migration, from the report's `counts`: the rows stay in
 * the core unless read, and at 10,000 migrations serialising and parsing them cost more memory
 * than anything else at the end of a run.
 */
function changedAny(report) {
  return (report.counts.applied ?? 0) + (report.counts.reverted ?? 0) > 0
}

/** Whether `file` is inside a git work tree that does not ignore it (git missing: no). */
function unignored(file) {
  // required here: loading child_process costs every run's start-up 2.5 ms, and only a run that
  // changed something asks git
  const { spawnSync } = require('node:child_process')
  const r = spawnSync('git', ['check-ignore', '-q', '--', file], { stdio: 'ignore' })
  return r.status === 1
}

/** `n thing` or `n things`. */
const count = (n, thing) => `${n} ${thing}${n === 1 ? '' : 's'}`

module.exports = { HISTORY_OPTIONS, runFlags, runOptions, finishRun, followSchema, count }
