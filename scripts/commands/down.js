'use strict'
const godwit = require('../../index.js')
const { UsageError } = require('../cli.js')
const { runFlags, runOptions, finishRun, followSchema, count } = require('../run-command.js')

exports.name = 'down'
exports.summary = 'Local development only: revert the newest applied migrations with their `down`, newest first.'
exports.positionals = []
exports.options = {
  count: { type: 'string', value: '<n>', description: 'how many to revert (default 1; 0 = all that are applied)' },
  to: { type: 'string', value: '<version>', description: 'revert every applied migration newer than this version (it stays applied); instead of --count' },
  'allow-non-local': { type: 'boolean', description: 'run even under NODE_ENV=production, in CI or against a non-local server' },
  ...runFlags('down.json'),
}
exports.details = `Locked and verified like up; each down runs in its own transaction (unless the migration is
non-transactional) together with marking its history row "reverted", so the next up applies it again.
Every migration to revert must export \`down\`, or nothing is reverted.
Refused (exit 2) under NODE_ENV=production, in CI and against a non-local server: the playbook's
production rollback is restore + redeploy, never routine down migrations.`

exports.run = async function run({ values }, out) {
  if (values.to !== undefined && values.count !== undefined) throw new UsageError('--count and --to contradict each other; pick one')
  const n = values.count === undefined ? (values.to === undefined ? 1 : undefined) : Number(values.count)
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError(`--count takes a whole number (0 = all), got \`${values.count}\``)
  const report = await godwit.down({ ...runOptions(values), count: n, to: values.to, allowNonLocal: values['allow-non-local'] })
  const code = finishRun('down', report, values, out, (r) => {
    const reverted = r.counts.reverted ?? 0
    return reverted ? `down: reverted ${count(reverted, 'migration')}` : 'down: nothing to revert'
  })
  await followSchema(report, values, out)
  return code
}
