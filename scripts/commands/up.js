'use strict'
const godwit = require('../../index.js')
const { runFlags, runOptions, finishRun, followSchema, count } = require('../run-command.js')

exports.name = 'up'
exports.summary = 'Apply pending migrations: locked, time-bounded, checksum-verified, in order, fail-closed; writes a report.'
exports.positionals = []
exports.options = {
  to: { type: 'string', value: '<version>', description: 'apply pending migrations up to and including this version only' },
  'dry-run': { type: 'boolean', description: 'print what would be applied, with each migration\'s settings and SQL, and apply nothing (as `godwit plan`)' },
  ...runFlags('migration.json'),
  'allow-existing-schema': { type: 'boolean', description: 'run even though godwit\'s history is empty and the database already holds a schema (else refused, exit 4: baseline instead)' },
}
exports.details = `Connection: DATABASE_URL, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE/PGOPTIONS/PGAPPNAME.
Environment: MIGRATION_TIMEOUT_SECONDS (whole run, default 1800), MIGRATION_LOCK_TIMEOUT (default 5s),
MIGRATION_STATEMENT_TIMEOUT (default 15min), MIGRATION_LOCK_RETRIES (default 3), MIGRATION_DIR,
MIGRATION_MODULE_TIMEOUT. Each may also be set in package.json#godwit or godwit.config.mjs
(history, timeoutSeconds, lockTimeout, statementTimeout, lockRetries, dir, moduleTimeout);
precedence: flag > environment > PGOPTIONS > configuration > default.
The only production path: run it from the pipeline's migration job, never at API start-up.`

exports.run = async function run({ values }, out) {
  if (values['dry-run']) return require('./plan.js').run({ values }, out)
  // the CLI is how the pipeline's migration job runs: never refused under NODE_ENV=production
  const report = await godwit.up({ ...runOptions(values), to: values.to, migrationJob: true, allowExistingSchema: values['allow-existing-schema'] })
  const code = finishRun('up', report, values, out, (r) => {
    const applied = r.migrations.filter((m) => m.state === 'applied').length
    const ahead = r.migrations.filter((m) => m.state === 'ahead').length
    if (applied) return `up: applied ${count(applied, 'migration')}`
    return ahead ? `up: nothing to do; the database has ${count(ahead, 'migration')} of a newer release (ahead)` : 'up: nothing to do'
  })
  await followSchema(report, values, out)
  return code
}
