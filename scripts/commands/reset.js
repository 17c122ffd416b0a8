'use strict'
const godwit = require('../../index.js')
const interrupt = require('../interrupt.js')
const { MODULE_TIMEOUT_OPTION, moduleTimeout, OUTPUT_OPTIONS, output } = require('../cli.js')

exports.name = 'reset'
exports.summary = 'Local development only: empty the database (every schema) and apply every migration again.'
exports.positionals = []
exports.options = {
  'allow-non-local': { type: 'boolean', description: 'run even under NODE_ENV=production, in CI or against a non-local server' },
  schema: { type: 'string', value: '<name>', description: 'schema of the history table (default public)' },
  table: { type: 'string', value: '<name>', description: 'history table (default godwit_migrations)' },
  sha: { type: 'string', value: '<sha>', description: 'names the report folder, as for up; the report is <root>/<sha>/reset.json' },
  'artifacts-dir': { type: 'string', value: '<path>', description: 'report root (default .artifacts/deploy)' },
  ...OUTPUT_OPTIONS,
  ...MODULE_TIMEOUT_OPTION,
}
exports.details = `Locked and verified like up, except that what the history says does not stop it (rebuilding is
the point). Every module is rendered and judged first; then, in one transaction, every live
history row is marked reverted (reverted_by_command = 'reset'), every schema is dropped with what
is in it, public and the history's schema are recreated empty with their owner, comment and
grants, and the history table is kept. Then every migration is applied again, as by up.
Objects outside schemas (roles, event triggers, publications) are left alone.
Refused (exit 2) under NODE_ENV=production, in CI and against a non-local server: the playbook's
production rollback is restore + redeploy; destructive resets are for local databases.`

exports.run = async function run({ values }, out) {
  const report = await godwit.reset({
    dir: values.dir,
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
  const applied = report.migrations.filter((m) => m.state === 'applied').length
  if (report.ok) {
    const dropped = report.reset?.droppedSchemas ?? []
    out.status(c.green(`reset: dropped ${dropped.length} schema${dropped.length === 1 ? '' : 's'} (${dropped.join(', ')}), applied ${applied} migration${applied === 1 ? '' : 's'}`))
  } else {
    out.status(c.red(`reset: ${report.outcome} [${report.error?.code}] ${report.error?.message ?? ''}`))
  }
  out.status(c.dim(`report: ${report.reportPath}`))
  return report.ok ? 0 : report.error?.exitCode ?? 70
}
