'use strict'
const godwit = require('../../index.js')
const { runFlags, runOptions, finishRun, count } = require('../run-command.js')

exports.name = 'plan'
exports.summary = 'What `up` would apply, in order, with the settings and exact SQL of each; nothing runs, no lock is taken.'
exports.positionals = []
exports.options = {
  to: { type: 'string', value: '<version>', description: 'plan up to and including this version only' },
  ...runFlags('plan.json'),
  'allow-existing-schema': { type: 'boolean', description: 'as `up --allow-existing-schema`: plan even though godwit\'s history is empty and the database holds a schema' },
}
exports.details = `Verifies files and ledger and reads the history exactly as \`up\` does, on a read-only session
(default_transaction_read_only) without the migration lock; renders and judges each pending module as
\`up\` would; prints each one's transaction mode, lock_timeout and statement_timeout, and its SQL.
Nothing is run or written in the database. Same as \`godwit up --dry-run\`. Exit codes as \`up\`'s
(0 when there is a plan or nothing to do).`

/** The plan as people read it: one block per migration, settings first, then the SQL as sent. */
function printPlan(report, out) {
  const c = out.colors
  const steps = report.plan ?? []
  steps.forEach((m, i) => {
    const how = m.transactional ? 'in one transaction with its history row' : 'no transaction: each statement on its own'
    const own = m.ownTimeouts ? ' (its own config)' : ''
    out.line(c.bold(`-- [${i + 1}/${steps.length}] ${m.file}`))
    out.line(c.dim(`-- ${how}; lock_timeout ${ms(m.lockTimeoutMs)}, statement_timeout ${ms(m.statementTimeoutMs)}${own}; sql sha256 ${m.sqlChecksum.slice(0, 12)}`))
    for (const s of m.sql) out.line(s.trim().endsWith(';') ? s.trim() : `${s.trim()};`)
    out.line('')
  })
}

/** A millisecond setting as PostgreSQL would print it. */
function ms(n) {
  if (n === 0) return '0 (none)'
  if (n % 60000 === 0) return `${n / 60000}min`
  if (n % 1000 === 0) return `${n / 1000}s`
  return `${n}ms`
}

exports.printPlan = printPlan

exports.run = async function run({ values }, out) {
  const report = await godwit.plan({ ...runOptions(values), to: values.to, allowExistingSchema: values['allow-existing-schema'] })
  if (!values.json && report.ok) printPlan(report, out)
  return finishRun('plan', report, values, out, (r) => {
    const n = r.plan?.length ?? 0
    return n ? `plan: ${count(n, 'migration')} would be applied; nothing was run` : 'plan: nothing to do'
  })
}
