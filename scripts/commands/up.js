'use strict'
const godwit = require('../../index.js')
const { UsageError } = require('../cli.js')
const { runFlags, runOptions, finishRun, followSchema, count } = require('../run-command.js')
const fleet = require('../fleet-command.js')

exports.name = 'up'
exports.summary = 'Apply pending migrations: locked, time-bounded, checksum-verified, in order, fail-closed; writes a report.'
exports.positionals = []
exports.options = {
  to: { type: 'string', value: '<version>', description: 'apply pending migrations up to and including this version only' },
  'dry-run': { type: 'boolean', description: 'print what would be applied, with each migration\'s settings and SQL, and apply nothing (as `godwit plan`)' },
  ...runFlags('migration.json'),
  'allow-existing-schema': { type: 'boolean', description: 'run even though godwit\'s history is empty and the database already holds a schema (else refused, exit 4: baseline instead)' },
  ...fleet.UP_FLEET_OPTIONS,
}
exports.details = `Connection: DATABASE_URL, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE/PGOPTIONS/PGAPPNAME.
Environment: MIGRATION_TIMEOUT_SECONDS (whole run, default 1800), MIGRATION_LOCK_TIMEOUT (default 5s),
MIGRATION_STATEMENT_TIMEOUT (default 15min), MIGRATION_LOCK_RETRIES (default 3), MIGRATION_DIR,
MIGRATION_MODULE_TIMEOUT. Each may also be set in package.json#godwit or godwit.config.mjs
(history, timeoutSeconds, lockTimeout, statementTimeout, lockRetries, dir, moduleTimeout);
precedence: flag > environment > PGOPTIONS > configuration > default.
The only production path: run it from the pipeline's migration job, never at API start-up.
Many databases (--targets / --targets-query): each target is its own up (lock, history, timeouts,
report in <root>/<sha>/targets/<name>/), at most --concurrency at a time, all within one
MIGRATION_TIMEOUT_SECONDS; the summary goes to <root>/<sha>/fleet.json (fleet-<i>-of-<n>.json with
--shard). Exit 0 when every target is ok, 8 when some failed or did not start, 6 when interrupted.`

exports.run = async function run({ values }, out) {
  if (values['dry-run']) return require('./plan.js').run({ values }, out)
  if (fleet.wantsFleet(values)) {
    return fleet.upTargets(values, out, { ...runOptions(values), to: values.to, allowExistingSchema: values['allow-existing-schema'] })
  }
  for (const f of ['fail-fast', 'canary', 'concurrency', 'shard']) {
    if (values[f] !== undefined) throw new UsageError(`--${f} applies to a fleet: add --targets <file> or --targets-query <sql>`)
  }
  // the CLI is how the pipeline's migration job runs: never refused under NODE_ENV=production
  const report = await godwit.up({ ...runOptions(values), to: values.to, migrationJob: true, allowExistingSchema: values['allow-existing-schema'] })
  const code = finishRun('up', report, values, out, (r) => {
    const applied = r.counts.applied ?? 0
    const ahead = r.counts.ahead ?? 0
    if (applied) return `up: applied ${count(applied, 'migration')}`
    return ahead ? `up: nothing to do; the database has ${count(ahead, 'migration')} of a newer release (ahead)` : 'up: nothing to do'
  })
  await followSchema(report, values, out)
  return code
}
