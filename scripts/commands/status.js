'use strict'
const godwit = require('../../index.js')
const native = require('../../lib/native.js')
const { callNative, exitFor } = require('../../lib/errors.js')
const { nativeOptions } = require('../../lib/native-options.js')
const { EXIT, UsageError, githubOutput } = require('../cli.js')
const { HISTORY_OPTIONS } = require('../run-command.js')
const fleet = require('../fleet-command.js')

exports.name = 'status'
exports.summary = 'What is applied, pending, changed, missing or failed; read-only, no lock.'
exports.positionals = []
exports.options = {
  ...HISTORY_OPTIONS,
  'github-output': { type: 'boolean', description: 'append requires_migrations=true|false and clean=true|false to the file in $GITHUB_OUTPUT' },
  verbose: { type: 'boolean', description: 'also say where the settings came from (the .env file read, the variables it set)' },
  ...fleet.TARGET_OPTIONS,
}
exports.details = `Exit 0 when clean, 1 when migrations are pending, 4 when the history disagrees with the files.
Migrations a newer release applied (this is an older release, replayed) are \`ahead\`, exit 0,
unless the configuration says ahead: 'refuse' (then they are missing files, exit 4).
With --targets/--targets-query: every target's status (behind, failed, ahead, unreachable) and
requires_migrations over the fleet; exit 8 when a target cannot be read, else 4, 1 or 0 as above.
With --github-output, a pipeline step's outputs drive a conditional migration job:
  if: needs.<job>.outputs.requires_migrations == 'true'
When they cannot be appended to $GITHUB_OUTPUT the exit is 70 (IO) unless it is 4 or 8, so a
step that accepts exit 1 (pending) still fails rather than skip the job.`

/** `status`'s report without its rows, and the rows as the lines to print. */
async function statusListing(options, colors) {
  const { report, listing } = await callNative(native.statusListing, await nativeOptions(options), colors)
  return { s: JSON.parse(report), listing }
}

exports.run = async function run({ values }, out) {
  if (values['github-output'] && !process.env.GITHUB_OUTPUT) {
    throw new UsageError('--github-output needs the GITHUB_OUTPUT variable (set by GitHub Actions to the step-outputs file)')
  }
  if (fleet.wantsFleet(values)) return fleet.statusTargets(values, out, { dir: values.dir, schema: values.schema, table: values.table })
  if (values.concurrency !== undefined || values.shard !== undefined) throw new UsageError('--concurrency and --shard apply to a fleet: add --targets <file> or --targets-query <sql>')
  const options = { dir: values.dir, schema: values.schema, table: values.table }
  // Printed, the rows come from the core as lines, made from the rows it holds: building them
  // here meant parsing every row's JSON first (at 10,000 migrations about 25 ms with its garbage).
  const { s, listing } = values.json ? { s: await godwit.status(options) } : await statusListing(options, out.colors.on)
  const found = s.problems > 0 || s.fileViolations.length > 0 ? EXIT.INTEGRITY : s.pending > 0 ? EXIT.NOT_CLEAN : EXIT.OK
  const outputsSet = !values['github-output'] || githubOutput({ requires_migrations: s.requiresMigrations, clean: s.clean }, out)
  const code = outputsSet || found === EXIT.INTEGRITY ? found : exitFor('IO')
  if (values.json) {
    out.json(s)
    return code
  }
  const c = out.colors
  // one write for the whole listing: a write per line was a sixth of `status` at 10,000 migrations
  const violations = s.fileViolations.map((v) => `${v.file}: ${c.red(v.rule)}: ${v.message}\n`)
  if (listing || violations.length) out.raw(listing + violations.join(''))
  const problems = [
    s.problems > 0 && `${s.problems} migration problem(s)`,
    s.fileViolations.length > 0 && `${s.fileViolations.length} file problem(s)`,
    `${s.pending} pending`,
  ].filter(Boolean)
  out.status(
    found === EXIT.OK ? c.green(s.ahead ? `status: clean; ${s.ahead} applied by a newer release (ahead)` : 'status: clean') : found === EXIT.NOT_CLEAN ? c.yellow(`status: ${s.pending} pending`) : c.red(`status: ${problems.join(', ')}`),
  )
  return code
}
