'use strict'
const path = require('node:path')
const godwit = require('../../index.js')
const { exitFor } = require('../../lib/errors.js')
const { writeReport } = require('../../lib/write.js')
const { displayPath, EXIT, notWritten, UsageError } = require('../cli.js')

exports.name = 'import'
exports.summary = 'Convert another tool\'s migrations into godwit migrations, sealed into checksums.json.'
exports.positionals = [
  { name: 'tool', description: `the tool that wrote them: ${godwit.importTools().join(', ')}` },
  { name: 'source', path: true, description: 'the folder holding that tool\'s migrations' },
]
exports.options = {
  verbose: { type: 'boolean', description: 'list every imported file with the source it came from' },
}
exports.details = `Writes into the migrations folder (--dir), which must be empty: one .mjs per source migration
(a non-transactional source with several statements becomes one per statement), up/down as plain
literals, config.transaction = false where the source runs outside a transaction. Versions keep
the source's instants (YYYYMMDDHHMMSS, epoch seconds or milliseconds); sequence numbers map in
order. The first line of each file records the source tool and id (baseline --from reads it);
the whole mapping is also written to .artifacts/import/<tool>.json.
Then sets baseline in package.json#godwit (the legacy history: exempt from SQL safety rules).
Every problem is listed and nothing is written (exit 2, IMPORT_INVALID). Next: godwit check, then
in the migration job godwit baseline --from <tool>.`

exports.run = async function run({ values, positionals: args }, out) {
  if (args.length !== 2) {
    throw new UsageError(`import takes <tool> <source>: e.g. godwit import dbmate db/migrations-dbmate (tools: ${godwit.importTools().join(', ')})`)
  }
  const imported = await godwit.importMigrations(args[0], args[1], { dir: values.dir })
  // the import report: the mapping from each source id to its godwit file, kept with the reports
  const written = writeReport(path.join('.artifacts', 'import', `${imported.tool}.json`), imported)
  imported.reportPath = written.path
  if (written.error) {
    // the migrations are written and sealed: the mapping is printed instead of lost
    imported.reportError = written.error
    if (values.json) out.json(imported)
    notWritten('import', imported, written.error, values, out)
    return exitFor('REPORT_NOT_WRITTEN')
  }
  if (values.json) {
    out.json(imported)
    return EXIT.OK
  }
  if (values.verbose) {
    for (const m of imported.migrations) out.line(`${m.file}  <- ${m.from.join(' + ')}${m.part ? ` (statement ${m.part[0]} of ${m.part[1]})` : ''}`)
  }
  for (const n of imported.notes) out.status(`note: ${n}`)
  out.status(`import: ${imported.migrations.length} migration(s) from ${imported.tool} into ${displayPath(imported.dir)}, sealed in checksums.json`)
  out.status(
    imported.config.written
      ? `import: baseline set to ${imported.baseline} in ${imported.config.file}`
      : `import: now ${imported.config.instruction}`,
  )
  out.status(`report: ${imported.reportPath}`)
  out.status(`next: godwit check; then, in the migration job against the database ${imported.tool} migrated: godwit baseline --from ${imported.tool}`)
  return EXIT.OK
}
