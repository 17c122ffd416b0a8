'use strict'
const godwit = require('../../index.js')
const { displayPath, EXIT, UsageError } = require('../cli.js')

exports.name = 'create'
exports.summary = 'Create a migration from the template and seal it into checksums.json.'
exports.positionals = [{ name: 'name', description: 'snake_case name: a-z, 0-9 and _ (e.g. add_widgets)' }]
exports.options = {}
/** `godwit create add user table`: the shell split the name; say what to type instead. */
exports.tooManyArguments = (words) =>
  `godwit create takes one name, and got ${words.length} words: did you mean \`godwit create ${words.join('_').toLowerCase()}\`? (names use a-z, 0-9 and _)`
exports.details = 'The version is the current time in epoch milliseconds, always newer than every existing migration.\nAlso: pnpm db:migrate:create -- <name>'

exports.run = async function run({ values, positionals: args }, out) {
  if (args.length === 0) {
    throw new UsageError('missing <name>: godwit create <name>, e.g. godwit create add_widgets')
  }
  const created = await godwit.create(args[0], { dir: values.dir })
  if (values.json) out.json({ ok: true, ...created })
  else out.line(displayPath(created.path))
  return EXIT.OK
}
