'use strict'
const godwit = require('../../index.js')
const interrupt = require('../interrupt.js')
const { UsageError, MODULE_TIMEOUT_OPTION, moduleTimeout, OUTPUT_OPTIONS, output } = require('../cli.js')

exports.name = 'down'
exports.summary = 'Local development only: revert the newest applied migrations with their `down`, newest first.'
exports.positionals = []
exports.options = {
  count: { type: 'string', value: '<n>', description: 'how many to revert (default 1; 0 = all that are applied)' },
  'allow-non-local': { type: 'boolean', description: 'run even under NODE_ENV=production, in CI or against a non-local server' },
  schema: { type: 'string', value: '<name>', description: 'schema of the history table (default public)' },
  table: { type: 'string', value: '<name>', description: 'history table (default godwit_migrations)' },
  sha: { type: 'string', value: '<sha>', description: 'names the report folder, as for up; the report is <root>/<sha>/down.json' },
  'artifacts-dir': { type: 'string', value: '<path>', description: 'report root (default .artifacts/deploy)' },
  ...OUTPUT_OPTIONS,
  ...MODULE_TIMEOUT_OPTION,
}
exports.details = `Locked and verified like up; each down runs in its own transaction (unless the migration is
non-transactional) together with marking its history row "reverted", so the next up applies it again.
Every migration to revert must export \`down\`, or nothing is reverted.
Refused (exit 2) under NODE_ENV=production, in CI and against a non-local server: the playbook's
production rollback is restore + redeploy, never routine down migrations.`

exports.run = async function run({ values }, out) {
  const count = values.count === undefined ? 1 : Number(values.count)
  if (!Number.isInteger(count) || count < 0) throw new UsageError(`--count takes a whole number (0 = all), got \`${values.count}\``)
  const report = await godwit.down({
    dir: values.dir,
    count,
    allowNonLocal: values['allow-non-local'],
    schema: values.schema,
    table: values.table,
    sha: values.sha,
    artifactsDir: values['artifacts-dir'],
    ...output(values),
    moduleTimeoutMs: moduleTimeout(values),
    signal: interrupt.signal,
  })
  if (values.json) out.json(report)
  const c = out.colors
  const reverted = report.migrations.filter((m) => m.state === 'reverted').length
  if (report.ok) out.status(c.green(reverted ? `down: reverted ${reverted} migration${reverted === 1 ? '' : 's'}` : 'down: nothing to revert'))
  else out.status(c.red(`down: ${report.outcome} [${report.error?.code}] ${report.error?.message ?? ''}`))
  out.status(c.dim(`report: ${report.reportPath}`))
  return report.ok ? 0 : report.error?.exitCode ?? 70
}
