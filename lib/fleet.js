'use strict'
// One release over many databases: each target is an ordinary `up` (its own session, lock,
// history, timeouts and report), run at most `concurrency` at a time inside one fleet budget; the
// policy (fail-fast, canary wave) decides which start; a signal stops every running one and starts
// no more. The summary says what became of each, and is the fleet's record (fleet.json).

const path = require('node:path')
const { GodwitError } = require('./errors.js')
const { reach } = require('./targets.js')

const FLEET_VERSION = 1
const DEFAULT_BUDGET_SECONDS = 1800
const DEFAULT_CONCURRENCY = 4
/** A report outcome where nothing went wrong. */
const GOOD = new Set(['applied', 'nothing-to-do', 'database-ahead'])

/** `concurrency`: a whole number from 1 to 64 (default 4, never more than the targets). */
function concurrencyOf(value, targets) {
  if (value === undefined || value === null) return Math.max(1, Math.min(DEFAULT_CONCURRENCY, targets))
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new GodwitError('USAGE', `concurrency must be a whole number from 1 to 64, got ${value}`)
  return Math.min(n, Math.max(1, targets))
}

/** The fleet budget in seconds: as given, else MIGRATION_TIMEOUT_SECONDS, the configuration's, 1800. */
function budgetOf(given, env, config) {
  const v = given ?? env.MIGRATION_TIMEOUT_SECONDS ?? config?.timeoutSeconds ?? DEFAULT_BUDGET_SECONDS
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new GodwitError('CONFIG', `MIGRATION_TIMEOUT_SECONDS must be a whole number of seconds, got ${v}`)
  return n
}

/**
 * Runs `work(target, i)` for every target, at most `concurrency` at once, in list order; `decide`
 * is asked before each start and may say why it must not start (`null`: start it). Resolves to
 * the results in list order once every started target has finished.
 */
async function pool(targets, concurrency, decide, work) {
  const results = Array.from({ length: targets.length })
  let next = 0
  async function worker() {
    while (next < targets.length) {
      const i = next++
      const refusal = decide(i)
      results[i] = refusal ? { skipped: refusal } : await work(targets[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker))
  return results
}

/** A target as the summary names it: its name and how it is reached (never a secret). */
function identity(target) {
  return {
    name: target.name,
    ...(target.database ? { database: target.database } : {}),
    ...(target.schema ? { schema: target.schema } : {}),
    ...(target.urlEnv ? { urlEnv: target.urlEnv } : {}),
  }
}

/** What one target's report says, for the summary (no SQL, no secret: the report has the rest). */
function entryOf(target, report, ms) {
  const ran = report.migrations ?? []
  return {
    ...identity(target),
    connection: report.database?.connection ?? null,
    outcome: report.outcome,
    ok: Boolean(report.ok),
    applied: ran.filter((m) => m.state === 'applied').length,
    pending: ran.filter((m) => m.state === 'pending').length,
    durationMs: report.durationMs ?? ms,
    ...(report.error ? { error: { code: report.error.code, message: report.error.message } } : {}),
    report: report.reportPath ?? null,
  }
}

function errorEntry(target, err, ms) {
  return {
    ...identity(target),
    connection: null,
    outcome: 'error',
    ok: false,
    applied: 0,
    pending: 0,
    durationMs: Math.round(ms),
    error: { code: err.code ?? 'INTERNAL', message: String(err.message) },
    report: null,
  }
}

function skippedEntry(target, why) {
  return {
    ...identity(target),
    connection: null,
    outcome: 'not-started',
    ok: false,
    applied: 0,
    pending: 0,
    durationMs: 0,
    skipped: why,
    report: null,
  }
}

/**
 * `up` over the targets. `api` is godwit's own API (its `up`), so each target runs exactly as a
 * single `up` does. Options: `concurrency`, `failFast`, `canary` (the first N targets, in list
 * order, must all succeed before any other starts), `budgetSeconds` (the whole fleet), `signal`,
 * `sha`, `artifactsDir`, `shard` (recorded), `onTarget(entry)` after each, and what every `up`
 * gets (`dir`, `table`, `moduleTimeout`, ...).
 */
async function upFleet(api, targets, options = {}) {
  const env = options.env ?? process.env
  const started = Date.now()
  const startedAt = new Date(started).toISOString()
  const concurrency = concurrencyOf(options.concurrency, targets.length)
  const budget = budgetOf(options.budgetSeconds, env, options.config)
  const deadline = started + budget * 1000
  const canary = options.canary === undefined || options.canary === null ? 0 : Number(options.canary)
  if (!Number.isInteger(canary) || canary < 0) throw new GodwitError('USAGE', `canary must be a whole number of targets, got ${options.canary}`)
  const stop = new AbortController()
  const onAbort = () => stop.abort(options.signal.reason)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) onAbort()
  let failed = false
  // the release sha as the runs resolved it (flag, GIT_SHA, GITHUB_SHA, git HEAD, "local")
  let releaseSha = options.sha ?? null
  // rendered once per module text for the whole fleet: every target runs the same files
  const renderCache = new Map()
  const entries = Array.from({ length: targets.length })
  const one = async (target, i) => {
    const t0 = Date.now()
    let entry
    try {
      const how = reach(target, env)
      const left = Math.floor((deadline - Date.now()) / 1000)
      const report = await api.up({
        ...options.up,
        sha: options.sha,
        artifactsDir: options.artifactsDir,
        schema: how.schema ?? options.up?.schema,
        onlySchema: how.onlySchema,
        env: { ...how.env, MIGRATION_TIMEOUT_SECONDS: String(Math.max(1, left)) },
        target: target.name,
        migrationJob: true,
        signal: stop.signal,
        renderCache,
      })
      releaseSha ??= report.settings?.releaseSha ?? null
      entry = entryOf(target, report, Date.now() - t0)
      entry.ok = entry.ok && GOOD.has(report.outcome)
    } catch (err) {
      entry = errorEntry(target, err, Date.now() - t0)
    }
    if (!entry.ok) failed = true
    entries[i] = entry
    options.onTarget?.(entry)
    return entry
  }
  const decide = () => {
    if (stop.signal.aborted) return 'interrupted'
    if (Date.now() >= deadline - 1000) return 'budget'
    if (failed && options.failFast) return 'fail-fast'
    return null
  }
  try {
    const first = targets.slice(0, canary)
    const rest = targets.slice(canary)
    const a = await pool(first, concurrency, decide, one)
    const canaryFailed = a.some((e) => !e.ok)
    const b = await pool(rest, concurrency, canaryFailed ? () => 'canary' : decide, (t, j) => one(t, canary + j))
    for (const [k, r] of [...a, ...b].entries()) if (r.skipped) entries[k] = skippedEntry(targets[k], r.skipped)
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  const summary = summarize('up', entries, {
    startedAt,
    durationMs: Date.now() - started,
    concurrency,
    budgetSeconds: budget,
    failFast: Boolean(options.failFast),
    canary,
    shard: options.shard ?? null,
    sha: releaseSha ?? 'local',
    interrupted: stop.signal.aborted ? String(stop.signal.reason ?? 'aborted') : null,
  })
  return summary
}

/**
 * `status` over the targets: each target's status (read-only, no lock), at most `concurrency` at
 * once. Every target is asked; one that cannot be reached is an error entry.
 */
async function statusFleet(api, targets, options = {}) {
  const env = options.env ?? process.env
  const started = Date.now()
  const concurrency = concurrencyOf(options.concurrency, targets.length)
  const entries = await pool(targets, concurrency, () => null, async (target) => {
    const t0 = Date.now()
    try {
      const how = reach(target, env)
      const s = await api.status({ ...options.status, schema: how.schema ?? options.status?.schema, env: how.env })
      const state = s.problems > 0 || s.fileViolations.length > 0 ? 'problems' : s.pending > 0 ? 'behind' : s.ahead > 0 ? 'ahead' : 'current'
      return {
        ...identity(target),
        connection: s.database.connection,
        outcome: state,
        ok: state === 'current' || state === 'ahead',
        applied: s.migrations.filter((m) => m.state === 'applied').length,
        pending: s.pending,
        problems: s.problems + s.fileViolations.length,
        ahead: s.ahead,
        durationMs: Date.now() - t0,
        report: null,
      }
    } catch (err) {
      return errorEntry(target, err, Date.now() - t0)
    }
  })
  return summarize('status', entries, { startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, concurrency, shard: options.shard ?? null, sha: null })
}

/** The fleet summary from its entries (also what `fleet-merge` rebuilds). */
function summarize(command, entries, meta) {
  const count = (f) => entries.filter(f).length
  const counts = {
    targets: entries.length,
    ok: count((e) => e.ok),
    failed: count((e) => !e.ok && e.outcome !== 'not-started'),
    notStarted: count((e) => e.outcome === 'not-started'),
    applied: entries.reduce((n, e) => n + e.applied, 0),
  }
  const behind = entries.filter((e) => e.pending > 0 || e.outcome === 'behind').map((e) => e.name)
  return {
    fleetVersion: FLEET_VERSION,
    tool: 'godwit',
    command,
    ...meta,
    ok: counts.ok === counts.targets,
    requires_migrations: command === 'status' ? behind.length > 0 : undefined,
    counts,
    failed: entries.filter((e) => !e.ok && e.outcome !== 'not-started').map((e) => e.name),
    notStarted: entries.filter((e) => e.outcome === 'not-started').map((e) => e.name),
    behind,
    targets: entries,
  }
}

/** Where a fleet summary goes: `<root>/<sha>/fleet.json`, or `fleet-<i>-of-<n>.json` for a shard. */
function fleetPath(root, sha, shard) {
  const safe = String(sha || 'local').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+$/, 'local')
  const file = shard ? `fleet-${shard.index}-of-${shard.count}.json` : 'fleet.json'
  return path.join(root, safe, file)
}

/**
 * The summary with where it was written (`fleetPath`), or, when it could not be, `fleetPath`
 * null and `reportError` saying why: the targets have run, so the summary is returned either way.
 */
function writeFleet(file, summary) {
  const written = require('./write.js').writeReport(file, summary)
  return written.error ? { ...summary, fleetPath: null, reportError: written.error } : { ...summary, fleetPath: file }
}

/**
 * Several shards' summaries as one: every target once (a target in two shards is an error: the
 * shards were cut from different lists), counts recomputed, ok only if every shard is whole.
 */
function mergeFleets(docs, { expectShards } = {}) {
  if (!docs.length) throw new GodwitError('USAGE', 'fleet-merge needs at least one fleet summary')
  const seen = new Map()
  const shards = []
  for (const [file, d] of docs) {
    if (d?.fleetVersion !== FLEET_VERSION || !Array.isArray(d.targets)) throw new GodwitError('USAGE', `${file} is not a godwit fleet summary (fleetVersion ${FLEET_VERSION})`)
    if (d.shard) shards.push(d.shard)
    for (const e of d.targets) {
      if (seen.has(e.name)) throw new GodwitError('USAGE', `target ${e.name} is in both ${seen.get(e.name)} and ${file}: the shards were not cut from the same targets list`)
      seen.set(e.name, file)
    }
  }
  const count = shards[0]?.count
  const missing = count ? Array.from({ length: count }, (_, i) => i).filter((i) => !shards.some((s) => s.index === i)) : []
  if (expectShards !== false && missing.length) {
    throw new GodwitError('USAGE', `shard(s) ${missing.map((i) => `${i}/${count}`).join(', ')} missing: merge every shard's fleet file (pass --partial to merge what there is)`)
  }
  const commands = new Set(docs.map(([, d]) => d.command))
  if (commands.size > 1) throw new GodwitError('USAGE', 'fleet-merge got summaries of different commands (up and status)')
  const entries = docs.flatMap(([, d]) => d.targets).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const starts = docs.map(([, d]) => d.startedAt).filter(Boolean).sort()
  return summarize([...commands][0], entries, {
    startedAt: starts[0] ?? null,
    durationMs: Math.max(...docs.map(([, d]) => d.durationMs ?? 0)),
    concurrency: docs.reduce((n, [, d]) => n + (d.concurrency ?? 0), 0),
    shard: null,
    merged: docs.map(([file, d]) => ({ file, shard: d.shard ?? null, ok: Boolean(d.ok) })),
    missingShards: missing.map((i) => `${i}/${count}`),
    sha: docs[0][1].sha ?? null,
  })
}

module.exports = { upFleet, statusFleet, summarize, fleetPath, writeFleet, mergeFleets, concurrencyOf, budgetOf, FLEET_VERSION }
