'use strict'
const godwit = require('../../index.js')
const { UsageError } = require('../cli.js')
const { runFlags, runOptions, finishRun, count } = require('../run-command.js')

exports.name = 'baseline'
exports.summary = 'Record migrations as applied without running them (adopting a database godwit did not build).'
exports.positionals = [{ name: 'version', description: 'record every migration up to and including this version (13 digits, as in its file name)' }]
exports.options = {
  ...runFlags('baseline.json'),
  from: { type: 'string', value: '<tool>', description: 'instead of a version: record exactly what that tool\'s history table says it applied (migrations imported with `godwit import`)' },
  'tool-table': { type: 'string', value: '<name>', description: 'with --from: the tool\'s history table, when it is not the tool\'s default name' },
}
exports.details = `Runs in the migration job like up: the same lock, budget, timeouts and report; every row is
recorded in one transaction, or none. Rows say how they got there (sql_checksum 'baseline').
Refused (exit 4, BASELINE_REFUSED), nothing written: the history already records the version or goes
past it; --from and the tool's history has failed or dirty entries, or entries no imported file has.
A version that is no migration file: exit 2.
Tools: ${godwit.importTools().join(', ')}.`

exports.run = async function run({ values, positionals: args }, out) {
  if ((args.length === 0) === (values.from === undefined)) {
    throw new UsageError('baseline takes a <version> or --from <tool> (one of them): godwit baseline 1700000000000, or godwit baseline --from dbmate')
  }
  if (values['tool-table'] !== undefined && values.from === undefined) {
    throw new UsageError('--tool-table goes with --from <tool>')
  }
  const report = await godwit.baseline({
    ...runOptions(values),
    migrationJob: true,
    version: args[0],
    from: values.from,
    toolTable: values['tool-table'],
  })
  return finishRun('baseline', report, values, out, (r) => {
    const n = r.counts.baselined ?? 0
    return `baseline: recorded ${count(n, 'migration')} as applied (none ran)`
  })
}
