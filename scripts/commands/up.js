'use strict'
const godwit = require('../../index.js')
const interrupt = require('../interrupt.js')
const { MODULE_TIMEOUT_OPTION, moduleTimeout, OUTPUT_OPTIONS, output } = require('../cli.js')

exports.name = 'up'
exports.summary = 'Apply pending migrations: locked, time-bounded, checksum-verified, in order, fail-closed; writes a report.'
exports.positionals = []
exports.options = {
  schema: { type: 'string', value: '<name>', description: 'schema of the history table (default public, env MIGRATION_HISTORY_SCHEMA)' },
  table: { type: 'string', value: '<name>', description: 'history table (default godwit_migrations, env MIGRATION_HISTORY_TABLE)' },
  sha: { type: 'string', value: '<sha>', description: 'release sha for the report path (else GIT_SHA, GITHUB_SHA, git HEAD, "local")' },
  'artifacts-dir': { type: 'string', value: '<path>', description: 'report root (default .artifacts/deploy); the report is <root>/<sha>/migration.json' },
  ...OUTPUT_OPTIONS,
  ...MODULE_TIMEOUT_OPTION,
}
exports.details = `Connection: DATABASE_URL, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE/PGOPTIONS/PGAPPNAME.
Environment: MIGRATION_TIMEOUT_SECONDS (whole run, default 1800), MIGRATION_LOCK_TIMEOUT (default 5s),
MIGRATION_STATEMENT_TIMEOUT (default 15min), MIGRATION_LOCK_RETRIES (default 3), MIGRATION_DIR,
MIGRATION_MODULE_TIMEOUT. Each may also be set in package.json#godwit or godwit.config.mjs
(history, timeoutSeconds, lockTimeout, statementTimeout, lockRetries, dir, moduleTimeout);
precedence: flag > environment > PGOPTIONS > configuration > default.
The only production path: run it from the pipeline's migration job, never at API start-up.`

exports.run = async function run({ values }, out) {
  const report = await godwit.up({
    dir: values.dir,
    schema: values.schema,
    table: values.table,
    sha: values.sha,
    artifactsDir: values['artifacts-dir'],
    ...output(values),
    moduleTimeoutMs: moduleTimeout(values),
    signal: interrupt.signal,
    // the CLI is how the pipeline's migration job runs: never refused under NODE_ENV=production
    migrationJob: true,
  })
  if (values.json) out.json(report)
  const c = out.colors
  const applied = report.migrations.filter((m) => m.state === 'applied').length
  if (report.ok) {
    out.status(c.green(applied ? `up: applied ${applied} migration${applied === 1 ? '' : 's'}` : 'up: nothing to do'))
  } else {
    out.status(c.red(`up: ${report.outcome} [${report.error?.code}] ${report.error?.message ?? ''}`))
  }
  out.status(c.dim(`report: ${report.reportPath}`))
  return report.ok ? 0 : report.error?.exitCode ?? 70
}
