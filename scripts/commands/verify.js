'use strict'
const godwit = require('../../index.js')
const interrupt = require('../interrupt.js')
const { notWritten, OUTPUT_OPTIONS, output, runExit } = require('../cli.js')

exports.name = 'verify'
exports.summary = 'The migration-safety gate: frozen check, then up, a no-op second up and a clean status on a scratch database, and a reproducible rebuild.'
exports.positionals = []
exports.options = {
  sha: { type: 'string', value: '<sha>', description: 'names the report folder (default "verify")' },
  'artifacts-dir': { type: 'string', path: true, value: '<path>', description: 'report root (default .artifacts/deploy); the report is <root>/<sha>/verify.json' },
  'no-round-trip': { type: 'boolean', description: 'skip the down/up round trip (for histories whose downs were never meant to revert in a chain)' },
  ...OUTPUT_OPTIONS,
}
exports.details = `DATABASE_URL (or PG*) names a server where the role may create databases. verify creates two
scratch databases there (godwit_verify_*), drops them afterwards (also on failure or SIGINT/SIGTERM),
and never applies anything to the database DATABASE_URL itself names.
Passes only when: check has no errors; up applies every migration; a second up applies nothing and
the schema fingerprint (tables, columns, types, defaults, constraints, indexes, sequences, functions,
views, triggers, enums, extensions, privileges) is unchanged; status is clean; and a second database
built from the same files has the same fingerprint. When every migration has \`down\`, a round trip
runs too: down all must leave the schema as before the first up, and up again must rebuild it
(--no-round-trip skips it). Migrations up to the configuration's baseline (the legacy history) are
not part of the round trip: the migrations after it are reverted and applied again.`

exports.run = async function run({ values }, out) {
  const report = await godwit.verify({
    dir: values.dir,
    sha: values.sha,
    artifactsDir: values['artifacts-dir'],
    roundTrip: !values['no-round-trip'],
    ...output(values),
    signal: interrupt.signal,
  })
  if (values.json) out.json(report)
  const c = out.colors
  if (report.ok) {
    out.status(c.green(`verify: ok: ${report.steps.map((s) => s.step).join(' -> ')}; schema ${report.fingerprint.hash.slice(0, 12)} (${report.fingerprint.objects} objects)`))
  } else {
    out.status(c.red(`verify: ${report.outcome} [${report.error.code}] ${report.error.message}`))
    for (const l of report.diff?.onlyBefore ?? []) out.status(c.dim(`  - ${l}`))
    for (const l of report.diff?.onlyAfter ?? []) out.status(c.dim(`  + ${l}`))
  }
  if (!report.dropped) out.status(c.red(`verify: a scratch database could not be dropped: ${report.dropError}`))
  if (report.reportError) {
    notWritten('verify', report, report.reportError, values, out)
    return runExit(report)
  }
  out.status(c.dim(`report: ${report.reportPath}`))
  return runExit(report)
}
