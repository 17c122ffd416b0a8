'use strict'
const godwit = require('../../index.js')
const { runFlags, runOptions, finishRun, followSchema, count } = require('../run-command.js')

exports.name = 'reset'
exports.summary = 'Local development only: empty the database (every schema) and apply every migration again.'
exports.positionals = []
exports.options = {
  'allow-non-local': { type: 'boolean', description: 'run even under NODE_ENV=production, in CI or against a non-local server' },
  ...runFlags('reset.json'),
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
  const report = await godwit.reset({ ...runOptions(values), allowNonLocal: values['allow-non-local'] })
  const code = finishRun('reset', report, values, out, (r) => {
    const applied = r.counts.applied ?? 0
    const dropped = r.reset?.droppedSchemas ?? []
    return `reset: dropped ${count(dropped.length, 'schema')} (${dropped.join(', ')}), applied ${count(applied, 'migration')}`
  })
  await followSchema(report, values, out)
  return code
}
