'use strict'
const godwit = require('../../index.js')
const { EXIT, UsageError } = require('../cli.js')
const { HISTORY_OPTIONS } = require('../run-command.js')

exports.name = 'drift'
exports.summary = 'Compare a live database\'s schema with the schema file (what the migrations build); read-only, no lock.'
exports.positionals = []
exports.options = { ...HISTORY_OPTIONS }
exports.details = `Describes the database's schema as the schema file does (db/schema.sql, or the configuration's
schemaFile) and prints the difference: lines with - are in the file only, + in the database only.
The file is the schema a scratch rebuild from the migrations gives: a local up writes it and
\`godwit verify\` fails in CI when it is not, so a difference here is drift (a change made by hand,
or migrations not applied yet: \`godwit status\` tells which). Owners, privileges and data are not
compared. Exit 0: no drift; 1: drift; 2: no schema file to compare with.`

exports.run = async function run({ values }, out) {
  const s = await godwit.schemaFile({ dir: values.dir, schema: values.schema, table: values.table })
  if (!s.path) throw new UsageError('the configuration sets schemaFile: false, so there is nothing to compare the database with')
  if (!s.exists) throw new UsageError(`${s.path} does not exist: run \`pnpm db:migrate:up\` against a local database (it writes the file) and commit it; \`godwit verify\` keeps it true in CI`)
  if (values.json) {
    out.json({ ok: s.same, drift: !s.same, file: s.path, diff: s.diff })
  } else if (s.same) {
    out.status(out.colors.green(`drift: none; the database's schema is ${s.path}`))
  } else {
    out.raw(s.diff.endsWith('\n') ? s.diff : `${s.diff}\n`)
    out.status(out.colors.red(`drift: the database's schema differs from ${s.path} (- file only, + database only); if migrations are pending, \`godwit status\` lists them`))
  }
  return s.same ? EXIT.OK : EXIT.NOT_CLEAN
}
