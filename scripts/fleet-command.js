'use strict'
// `up --targets` and `status --targets`: the fleet flags, the targets they name (a file, a query,
// a shard of either), and how a fleet summary becomes output and an exit code.
const path = require('node:path')
const godwit = require('../index.js')
// the fleet's own modules load only for a fleet run: `up` and `status` parse these options at
// every deploy and every CI job
const targetsLib = () => require('../lib/targets.js')
const fleetLib = () => require('../lib/fleet.js')
const { exitFor } = require('../lib/errors.js')
const { EXIT, githubOutput, notWritten, UsageError } = require('./cli.js')

const TARGET_OPTIONS = {
  targets: { type: 'string', path: true, value: '<file>', description: 'run on every target the file lists (JSON, or one per line: `<name> [database=<db>] [schema=<schema>] [urlEnv=<VAR>]`); see docs/fleet.md' },
  'targets-query': { type: 'string', value: '<sql>', description: 'run on the targets a read-only query against DATABASE_URL returns (columns name, and any of database, schema, url_env)' },
  concurrency: { type: 'string', value: '<n>', description: 'targets at a time (default 4)' },
  shard: { type: 'string', value: '<shard>', description: 'i/n: only shard i of n of the targets (0-based; the split is by name, the same on every machine)' },
}

const UP_FLEET_OPTIONS = {
  ...TARGET_OPTIONS,
  'fail-fast': { type: 'boolean', description: 'with --targets: start no more targets after the first failure' },
  canary: { type: 'string', value: '<n>', description: 'with --targets: the first n targets first; the rest only if all of them succeed' },
}

function wantsFleet(values) {
  return values.targets !== undefined || values['targets-query'] !== undefined
}

/** The targets the flags name, this shard's only. */
async function targetsOf(values) {
  if (values.targets !== undefined && values['targets-query'] !== undefined) throw new UsageError('--targets and --targets-query name the targets twice: give one')
  const { readTargets, parseShard, shardOf } = targetsLib()
  const list = values.targets !== undefined ? readTargets(values.targets) : await godwit.queryTargets(values['targets-query'], { dir: values.dir })
  const shard = values.shard === undefined ? null : parseShard(values.shard)
  return { targets: shard ? shardOf(list, shard) : list, shard, total: list.length }
}

function line(e, c) {
  const where = e.schema ? ` (schema ${e.schema})` : e.database ? ` (${e.database})` : ''
  const what = e.outcome === 'not-started' ? `not started: ${e.skipped}` : e.error ? `${e.outcome} [${e.error.code}] ${e.error.message.split('\n')[0]}` : e.outcome
  const more = e.applied ? `, ${e.applied} applied` : e.pending ? `, ${e.pending} pending` : ''
  const paint = e.ok ? c.green : e.outcome === 'not-started' || e.outcome === 'behind' ? c.yellow : c.red
  return `${e.name}${where}: ${paint(what)}${more}${e.durationMs ? ` in ${e.durationMs} ms` : ''}`
}

/** Why targets did not start, in words, with how many each: the summary line's reason. */
const NOT_STARTED = {
  budget: 'less than a second of the fleet budget (MIGRATION_TIMEOUT_SECONDS) was left',
  'fail-fast': 'a target failed under --fail-fast',
  canary: 'the canary wave failed',
  interrupted: 'interrupted',
}
function whyNotStarted(entries) {
  const counts = new Map()
  for (const e of entries) if (e.outcome === 'not-started') counts.set(e.skipped, (counts.get(e.skipped) ?? 0) + 1)
  return [...counts].map(([why, k]) => `${k} because ${NOT_STARTED[why] ?? why}`).join('; ')
}

async function upTargets(values, out, upOptions) {
  const { targets, shard, total } = await targetsOf(values)
  if (!targets.length) {
    out.status(`up: shard ${values.shard} of ${total} targets is empty; nothing to do`)
    return EXIT.OK
  }
  const { upFleet, fleetPath, writeFleet } = fleetLib()
  const config = await godwit.loadConfig().catch(() => null)
  const c = out.colors
  const summary = await upFleet(godwit, targets, {
    up: { dir: upOptions.dir, table: upOptions.table, schema: upOptions.schema, moduleTimeout: upOptions.moduleTimeout, allowExistingSchema: upOptions.allowExistingSchema, to: upOptions.to },
    sha: upOptions.sha,
    artifactsDir: upOptions.artifactsDir,
    concurrency: values.concurrency,
    failFast: values['fail-fast'],
    canary: values.canary,
    shard,
    config: config?.run,
    signal: upOptions.signal,
    onTarget: values.json || values.quiet ? undefined : (e) => out.status(line(e, c)),
  })
  const root = upOptions.artifactsDir ?? path.join('.artifacts', 'deploy')
  const written = writeFleet(fleetPath(root, summary.sha, shard), summary)
  if (values.json) out.json(written)
  const n = summary.counts
  const said = `up: ${n.ok} of ${n.targets} target(s) ok, ${n.applied} migration(s) applied` + (n.failed ? `; failed: ${summary.failed.join(', ')}` : '') + (n.notStarted ? `; not started: ${summary.notStarted.length} (${whyNotStarted(summary.targets)})` : '')
  out.status(summary.ok ? c.green(said) : c.red(said))
  if (written.reportError) notWritten('up', written, written.reportError, values, out)
  else out.status(c.dim(`fleet: ${written.fleetPath}`))
  if (summary.interrupted) return exitFor('INTERRUPTED')
  if (!summary.ok) return exitFor('TARGETS_FAILED')
  return written.reportError ? exitFor('REPORT_NOT_WRITTEN') : EXIT.OK
}

async function statusTargets(values, out, statusOptions) {
  const { targets, shard } = await targetsOf(values)
  const { statusFleet } = fleetLib()
  const summary = await statusFleet(godwit, targets, { status: statusOptions, concurrency: values.concurrency, shard })
  const c = out.colors
  const outputsSet = !values['github-output'] || githubOutput({ requires_migrations: summary.requires_migrations, clean: summary.ok && !summary.requires_migrations }, out)
  if (values.json) out.json(summary)
  else out.raw(summary.targets.map((e) => line(e, c)).join('\n') + (summary.targets.length ? '\n' : ''))
  const n = summary.counts
  const behind = summary.behind.length
  const errors = summary.targets.filter((e) => e.outcome === 'error')
  const problems = summary.targets.filter((e) => e.outcome === 'problems')
  out.status(`status: ${n.targets} target(s): ${n.ok} current, ${behind} behind, ${problems.length} with problems, ${errors.length} unreachable or failing; requires_migrations=${summary.requires_migrations}`)
  if (errors.length) return exitFor('TARGETS_FAILED')
  if (problems.length) return EXIT.INTEGRITY
  if (!outputsSet) return exitFor('IO')
  return behind ? EXIT.NOT_CLEAN : EXIT.OK
}

module.exports = { TARGET_OPTIONS, UP_FLEET_OPTIONS, wantsFleet, upTargets, statusTargets }
