'use strict'
// What up, down and reset share on the command line: their history and report flags, the options
// they hand the API, and how a run's report becomes output and an exit code. (status shares the
// history flags.)
const interrupt = require('./interrupt.js')
const { MODULE_TIMEOUT_OPTION, moduleTimeout, OUTPUT_OPTIONS, output } = require('./cli.js')

const HISTORY_OPTIONS = {
  schema: { type: 'string', value: '<name>', description: 'schema of the history table (default public, env MIGRATION_HISTORY_SCHEMA)' },
  table: { type: 'string', value: '<name>', description: 'history table (default godwit_migrations, env MIGRATION_HISTORY_TABLE)' },
}

/** The flags of a locked run that writes `<root>/<sha>/<reportFile>`. */
function runFlags(reportFile) {
  return {
    ...HISTORY_OPTIONS,
    sha: { type: 'string', value: '<sha>', description: 'release sha for the report path (else GIT_SHA, GITHUB_SHA, git HEAD, "local")' },
    'artifacts-dir': { type: 'string', value: '<path>', description: `report root (default .artifacts/deploy); the report is <root>/<sha>/${reportFile}` },
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
    moduleTimeoutMs: moduleTimeout(values),
    signal: interrupt.signal,
  }
}

/** Prints the report (`--json`) or its one-line outcome, then the report path; the exit code. */
function finishRun(command, report, values, out, success) {
  if (values.json) out.json(report)
  const c = out.colors
  if (report.ok) out.status(c.green(success(report)))
  else out.status(c.red(`${command}: ${report.outcome} [${report.error?.code}] ${report.error?.message ?? ''}`))
  out.status(c.dim(`report: ${report.reportPath}`))
  return report.ok ? 0 : report.error?.exitCode ?? 70
}

/** `n thing` or `n things`. */
const count = (n, thing) => `${n} ${thing}${n === 1 ? '' : 's'}`

module.exports = { HISTORY_OPTIONS, runFlags, runOptions, finishRun, count }
