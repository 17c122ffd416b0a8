'use strict'
// `verify`, the migration-safety gate in one command: frozen check -> scratch database A -> up ->
// up again (nothing applied, schema fingerprint unchanged) -> status clean -> scratch database B
// -> up (same fingerprint as A: the migrations are reproducible, e.g. no rendered SQL that
// changes from run to run). Scratch databases live on the server DATABASE_URL names and are
// dropped on every path; the database DATABASE_URL names is only used to create and drop them.

const path = require('node:path')
const crypto = require('node:crypto')
const native = require('./native.js')
const { GodwitError, callNative, exitFor } = require('./errors.js')
const { serverVersionUnlessPinned } = require('./judged-version.js')
const { writeReport } = require('./write.js')

function diff(a, b) {
  const inB = new Set(b.lines)
  const inA = new Set(a.lines)
  return { onlyBefore: a.lines.filter((l) => !inB.has(l)), onlyAfter: b.lines.filter((l) => !inA.has(l)) }
}

/**
 * @param {object} api the public API (check, up, down, status, fingerprint, schemaFile, serverVersion, loadConfig), so verify runs exactly
 *   what the individual commands run
 */
async function verify(api, options = {}) {
  const started = new Date()
  const sha = options.sha ?? 'verify'
  const root = path.resolve(options.artifactsDir ?? path.join('.artifacts', 'deploy'))
  const reportPath = path.join(root, native.sanitizeSha(sha), 'verify.json')
  const id = `${process.pid}_${crypto.randomBytes(4).toString('hex')}`
  const names = [`godwit_verify_${id}_a`, `godwit_verify_${id}_b`]
  const created = []
  const steps = []
  const report = { reportVersion: 1, command: 'verify', startedAt: started.toISOString(), ok: false, outcome: 'error', error: null, steps, scratchDatabases: names, dropped: false, fingerprint: null, reportPath }
  const say = (line) => options.progress && process.stderr.write(`godwit verify: ${line}\n`)
  const fail = (code, exitCode, message, extra = {}) => {
    exitCode ??= exitFor(code)
    report.outcome = 'failed'
    report.error = { code, exitCode, message }
    Object.assign(report, extra)
  }
  const upStep = async (step, database) => {
    say(`${step} on ${database}`)
    const r = await api.up({ migrationJob: true, dir: options.dir, database, sha: step, artifactsDir: path.join(path.dirname(reportPath), 'verify'), progress: options.progress, verbose: options.verbose, signal: options.signal })
    const applied = r.counts.applied ?? 0
    steps.push({ step, ok: r.ok, outcome: r.outcome, applied, report: r.reportPath })
    if (!r.ok) fail(r.error.code, r.error.exitCode, `${step}: ${r.error.message}`)
    return r.ok ? r : null
  }
  try {
    // SQL judged for the server the migrations are verified on, unless the project pins a version
    const { version: postgresVersion } = await serverVersionUnlessPinned(api, { connects: true })
    const checked = await api.check({ dir: options.dir, frozen: true, postgresVersion })
    steps.push({ step: 'check', ok: checked.ok, errors: checked.errors, warnings: checked.warnings, postgresVersion: checked.policy.postgresVersion })
    if (!checked.ok) {
      const first = checked.violations.find((v) => v.severity === 'error')
      fail('CHECK_FAILED', undefined, `check found ${checked.errors} error(s), first ${first.file}: ${first.rule}: ${first.message}`)
      return report
    }
    for (const name of names) {
      await callNative(() => native.scratchDatabase(true, name))
      created.push(name)
    }
    const [a, b] = names
    const empty = await api.fingerprint({ database: a })
    const first = await upStep('first-up', a)
    if (!first) return report
    const before = await api.fingerprint({ database: a })
    const second = await upStep('second-up', a)
    if (!second) return report
    const after = await api.fingerprint({ database: a })
    if ((second.counts.applied ?? 0) > 0 || after.hash !== before.hash) {
      fail('NOT_IDEMPOTENT', undefined, 'a second up changed the database: it must apply nothing and leave the schema as it was', { diff: diff(before, after) })
      return report
    }
    steps.push({ step: 'idempotent', ok: true, objects: after.objects })
    // The committed schema file must be what these migrations build: a pull request that changes
    // migrations without it (or it without them) fails here, with the diff.
    const schema = await api.schemaFile({ dir: options.dir, database: a })
    if (schema.path && schema.exists && !schema.same) {
      fail('SCHEMA_FILE_STALE', undefined, `${schema.path} is not the schema these migrations build; run \`pnpm db:migrate:up\` against a local database (it rewrites the file) and commit it:\n${schema.diff}`, { diff: schema.diff })
      return report
    }
    steps.push({ step: 'schema-file', ok: true, ...(schema.path && schema.exists ? { path: schema.path } : { skipped: schema.path ? `no ${schema.path}: a local up writes it` : 'schemaFile: false' }) })
    const st = await api.status({ dir: options.dir, database: a })
    steps.push({ step: 'status', ok: st.clean })
    if (!st.clean) {
      fail('STATUS_NOT_CLEAN', undefined, `status is not clean after up: ${st.pending} pending, ${st.problems} problem(s)`)
      return report
    }
    // Where every migration has `down`: down all, then up again, must give the schema back. The
    // legacy history (up to the configuration's baseline) already ran in production and is not
    // judged: the round trip covers the migrations after it.
    const legacy = checked.legacy?.baseline
    const judged = checked.migrations.filter((m) => legacy === undefined || m.version > legacy)
    const reversible = judged.length > 0 && judged.every((m) => m.downStatements != null)
    if (options.roundTrip === false) steps.push({ step: 'round-trip', ok: true, skipped: 'roundTrip: false (--no-round-trip)' })
    else if (reversible) {
      say(legacy === undefined ? `down all on ${a}` : `down the ${judged.length} migration(s) after the baseline ${legacy} on ${a}`)
      const d = await api.down({ dir: options.dir, database: a, count: legacy === undefined ? 0 : judged.length, sha: 'round-trip-down', artifactsDir: path.join(path.dirname(reportPath), 'verify'), progress: options.progress, verbose: options.verbose, signal: options.signal })
      steps.push({ step: 'round-trip-down', ok: d.ok, outcome: d.outcome, reverted: d.counts.reverted ?? 0, report: d.reportPath })
      if (!d.ok) {
        fail(d.error.code, d.error.exitCode, `round-trip-down: ${d.error.message}`)
        return report
      }
      const h = first.settings.historyTable
      const history = `${h.schema}.${h.table}`
      const undone = await api.fingerprint({ database: a })
      const withoutHistory = { ...undone, lines: undone.lines.filter((l) => !l.includes(history)) }
      // with a legacy history the state before the first migration after it is not built here,
      // so only up-after-down is compared
      const left = legacy === undefined ? diff(empty, withoutHistory) : { onlyBefore: [], onlyAfter: [] }
      if (left.onlyBefore.length || left.onlyAfter.length) {
        fail('NOT_REVERSIBLE', undefined, `after every down the schema is not what it was before the first up (first difference: ${left.onlyAfter[0] ?? left.onlyBefore[0]}); a down must undo exactly its up`, { diff: left })
        return report
      }
      if (!(await upStep('round-trip-up', a))) return report
      const again = await api.fingerprint({ database: a })
      if (again.hash !== before.hash) {
        fail('NOT_REVERSIBLE', undefined, 'down then up again does not give back the schema the first up built', { diff: diff(before, again) })
        return report
      }
      steps.push({ step: 'round-trip', ok: true })
    }
    if (!(await upStep('rebuild-up', b))) return report
    const rebuilt = await api.fingerprint({ database: b })
    if (rebuilt.hash !== before.hash) {
      const d = diff(before, rebuilt)
      fail('NOT_REPRODUCIBLE', undefined, `the same migrations built a different schema in a second database (first difference: ${d.onlyBefore[0] ?? d.onlyAfter[0]}); rendered SQL must not depend on time, randomness or the environment`, { diff: d })
      return report
    }
    steps.push({ step: 'reproducible', ok: true })
    report.fingerprint = { hash: before.hash, objects: before.objects }
    report.ok = true
    report.outcome = 'verified'
    return report
  } catch (err) {
    if (!(err instanceof GodwitError)) throw err
    fail(err.code, err.exitCode, err.message)
    return report
  } finally {
    let dropped = true
    for (const name of created) {
      try {
        await callNative(() => native.scratchDatabase(false, name))
      } catch (err) {
        dropped = false
        // every database left behind is named, not only the last
        report.dropError = [report.dropError, `${name}: ${err.message}`].filter(Boolean).join('; ')
      }
    }
    report.dropped = dropped
    if (report.outcome === 'failed' && options.signal?.aborted) {
      report.outcome = 'interrupted'
      report.error = { code: 'INTERRUPTED', exitCode: exitFor('INTERRUPTED'), message: `interrupted (${options.signal.reason}); ${dropped ? 'scratch databases dropped' : `a scratch database could not be dropped: ${report.dropError}`}` }
    }
    report.finishedAt = new Date().toISOString()
    // a report that cannot be written is still returned (the CLI prints it): the scratch
    // databases are already dropped, and what verify found must not be lost to a full disk
    const written = writeReport(reportPath, report)
    if (written.error) {
      report.reportPath = null
      report.reportError = written.error
    }
  }
}

module.exports = { verify }
