'use strict'
// godwit's public JS API: the functions the CLI and programs call. The native core (loaded by
// napi's generated `binding.js`) does the exact work; this file adds what only Node can do,
// importing migration modules, and turns native errors into `GodwitError`s with a stable `code`.

const native = require('./lib/native.js')
const { GodwitError, callNative, callNativeJson } = require('./lib/errors.js')
const { renderModules } = require('./lib/render.js')
const { findConfig, setBaseline } = require('./lib/config.js')
const { duration, nativeOptions } = require('./lib/native-options.js')
const { migrationJob } = require('./lib/where.js')
const path = require('node:path')

/**
 * The project configuration (package.json `godwit` key or godwit.config.mjs in the current
 * directory), validated by the core. Options passed to a function override it.
 */
async function loadConfig() {
  const { raw, source } = await findConfig()
  const validated = await callNativeJson(async () => native.config(raw, source ?? undefined))
  return { raw, source, ...validated }
}

/**
 * The schema file (`db/schema.sql`, or the configuration's `schemaFile`) against the database the
 * connection settings name (`database`: another on the same server): `{ path, exists, same, diff,
 * written, local }`. With `write: true` the file is rewritten when it differs and the server is
 * this machine's own (loopback or a socket). `path: null` when the configuration turns it off.
 */
async function schemaFile(options = {}) {
  return callNativeJson(native.schemaFile, await nativeOptions(options), Boolean(options.write))
}

/**
 * The major version of the server the connection settings name (`"15"`), bounded by
 * `timeoutMs` (default 3000).
 */
async function serverVersion(options = {}) {
  return callNative(native.serverVersion, { ...(await nativeOptions(options)), timeout: duration(options.timeoutMs ?? 3000) })
}

/** Create a migration from the template and seal it into the ledger. */
async function create(name, options = {}) {
  return callNativeJson(native.create, await nativeOptions(options), String(name))
}

/** The migration files that meet the filename contract, with checksums; no module is imported. */
async function scan(options = {}) {
  return callNativeJson(native.scan, await nativeOptions(options))
}

/**
 * The policy gate. Renders the SQL of every migration new or changed relative to the base (every
 * migration with `all: true`) and returns the same document `godwit check --json` prints.
 * Locally it seals new migrations into the ledger; frozen (CI or `frozen: true`) it never writes.
 */
async function check(options = {}) {
  const opts = await nativeOptions(options, { frozen: Boolean(options.frozen), base: options.base, all: Boolean(options.all) })
  // the server's version, when the caller learned it: judged as configured, else as given
  if (options.postgresVersion !== undefined) opts.config = { postgresVersion: String(options.postgresVersion), ...opts.config }
  const session = await callNative(async () => new native.CheckSession(opts))
  try {
    // the folder is read once, in Rust; each module is rendered from the text that was hashed
    const files = await callNativeJson(() => session.prepare())
    const { dir, moduleTimeoutMs } = session.render
    const render = (list) => renderModules(dir, list.map((f) => f.file), { timeoutMs: moduleTimeoutMs, sources: list.map((f) => f.source) })
    const rendered = await render(files)
    // merged migrations are rendered only when a type change needs the columns they made
    const asked = await callNativeJson(() => session.judge(JSON.stringify(rendered)))
    const history = asked.length ? await render(asked) : []
    return await callNativeJson(() => session.finish(JSON.stringify(history)))
  } finally {
    session.abandon() // a no-op after finish; otherwise releases the folder lock now
  }
}

/**
 * Apply pending migrations: verify files and ledger, connect, take the lock, compare with the
 * history, render only the pending modules, execute them in order, release the lock and write the
 * report. Resolves to the report (also on failure: `report.ok`, `report.error.code`); rejects
 * only if the report itself cannot be written, or (NOT_MIGRATION_JOB) when a program calls it
 * under NODE_ENV=production without declaring itself the migration job.
 */
async function up(options = {}) {
  refuseOutsideMigrationJob(options, 'up()')
  return run(options, { to: target(options.to) })
}

/**
 * What `up` would do, without doing it: the same verification and plan, on a read-only session
 * without the migration lock; each pending migration (up to `to`) rendered and judged as `up`
 * would, listed in the report's `plan` with the settings it would run with and its exact SQL.
 * Nothing runs and nothing is written in the database; the report goes to `plan.json`.
 */
async function plan(options = {}) {
  return run(options, { dryRun: true, to: target(options.to), allowExistingSchema: options.allowExistingSchema })
}

/** `to`: a version as text (13 digits; the core checks it against the files and history). */
function target(to) {
  return to === undefined || to === null ? undefined : String(to)
}

/**
 * Records migrations as applied without running them, for a database godwit did not build:
 * `{ version }` records every migration up to and including it; `{ from: '<tool>' }` exactly
 * those that tool's history table in the database says it applied (`toolTable` when renamed).
 * In the migration job, with the lock, budget, timeouts and report of `up`; all or nothing.
 */
async function baseline(options = {}) {
  refuseOutsideMigrationJob(options, 'baseline()')
  if ((options.version === undefined) === (options.from === undefined)) {
    throw new GodwitError('USAGE', 'baseline takes either a version (every migration up to it) or { from: <tool> } (what that tool applied), not both and not neither')
  }
  return run(options, {
    baseline: options.version === undefined ? undefined : String(options.version),
    baselineFrom: options.from === undefined ? undefined : String(options.from),
    baselineTable: options.toolTable,
  })
}

/**
 * Converts another tool's migrations (`source`, that tool's folder) into godwit migrations in the
 * project's folder, which must be empty, sealed into the ledger; then sets the configuration's
 * `baseline` to the newest imported version. Resolves to the mapping and notes.
 */
async function importMigrations(tool, source, options = {}) {
  const imported = await callNativeJson(native.importMigrations, await nativeOptions(options), String(tool), path.resolve(String(source)))
  imported.config = imported.baseline ? setBaseline(imported.baseline) : { written: false }
  return imported
}

/**
 * The playbook: production migrations run in the pipeline's migration job, never at API
 * start-up, where every replica would race for the lock and a slow migration would hold back
 * the rollout. An API that calls `up()` under NODE_ENV=production is refused before anything is
 * read or connected; the job declares itself with MIGRATION_JOB=1 (the CLI always does).
 */
function refuseOutsideMigrationJob(options, what) {
  if (process.env.NODE_ENV !== 'production' || options.migrationJob) return
  if (migrationJob()) return
  throw new GodwitError(
    'NOT_MIGRATION_JOB',
    `${what} was called under NODE_ENV=production by a program that is not the migration job. ` +
      'The playbook runs production migrations only from the pipeline\'s migration job (`pnpm db:migrate:up`), ' +
      'never at API start-up; at start-up call assertSchemaCurrent() instead. ' +
      'If this process is the migration job, set MIGRATION_JOB=1 (or pass { migrationJob: true }).',
  )
}

/**
 * For API start-up: read-only and without the lock, resolves to the status report when the
 * database has every migration applied and nothing changed, failed or missing; otherwise rejects
 * with SCHEMA_NOT_CURRENT (its `status` holds the report). The playbook forbids migrating at
 * start-up, so the API verifies instead and refuses to serve a schema it was not built for.
 */
async function assertSchemaCurrent(options = {}) {
  const report = await status(options)
  if (report.clean) return report
  const notCurrent = report.migrations.filter((m) => m.state !== 'applied')
  const listed = notCurrent.slice(0, 5).map((m) => `${m.version}_${m.name} ${m.state}`).join(', ')
  const more = notCurrent.length > 5 ? ` and ${notCurrent.length - 5} more` : ''
  const files = report.fileViolations.length ? `${report.fileViolations.length} migration file problem(s); ` : ''
  const err = new GodwitError(
    'SCHEMA_NOT_CURRENT',
    `the database schema is not current: ${files}${listed}${more}. ` +
      'Run the migration job (`pnpm db:migrate:up`) before starting the API; `pnpm db:migrate:status` shows the details.',
  )
  err.status = report
  throw err
}

/**
 * Local development only: revert the newest `count` applied migrations (default 1; 0 = all), or
 * with `to`, every applied migration newer than that version, by
 * running their `down`, newest first, each with its history row marked `reverted`. Refuses under
 * NODE_ENV=production, in CI and against a non-local server unless `allowNonLocal` is set.
 * Resolves to a report like `up`'s (`command: 'down'`).
 */
async function down(options = {}) {
  if (options.to !== undefined && options.count !== undefined) {
    throw new GodwitError('USAGE', 'down takes count or to, not both: to reverts every applied migration newer than that version')
  }
  const count = options.count ?? 1
  if (!Number.isInteger(count) || count < 0) {
    throw new GodwitError('USAGE', `count must be a whole number of migrations (0 for all), got ${count}`)
  }
  return run(options, { down: count, to: target(options.to), allowNonLocal: Boolean(options.allowNonLocal) })
}

/**
 * Local development only: empty the database (every schema and what is in it; `public` and the
 * history's schema come back empty with their owner and grants) and apply every migration again.
 * Every live history row is marked reverted by `reset` first; the history table itself is kept.
 * All modules are rendered and judged before anything is dropped, and the emptying is one
 * transaction. Refuses like `down` unless `allowNonLocal` is set. Resolves to a report like
 * `up`'s (`command: 'reset'`).
 */
async function reset(options = {}) {
  return run(options, { reset: true, allowNonLocal: Boolean(options.allowNonLocal) })
}

/**
 * Renders `files` (`{ file, source }`), reusing what `cache` holds for the same file and text: a
 * fleet runs the same modules on every target, and a module is a function of its text. Only
 * text the core read and verified is a key, so nothing else can be served from the cache. The
 * cache holds renders in flight too, so targets that start together wait for one render.
 */
async function renderCached(cache, files, render) {
  if (!cache) return render(files)
  const key = (f) => (typeof f.source === 'string' ? `${f.file}\0${f.source}` : null)
  const todo = files.filter((f) => key(f) === null || !cache.has(key(f)))
  const fresh = todo.length ? render(todo) : Promise.resolve([])
  const forget = (f) => key(f) !== null && cache.delete(key(f))
  for (const [i, f] of todo.entries()) {
    if (key(f) === null) continue
    const one = fresh.then((r) => r[i])
    one.catch(() => {}) // a failed render rejects for every target that waits on it, not as unhandled
    cache.set(key(f), one)
  }
  let done
  try {
    done = await fresh
  } catch (err) {
    todo.forEach(forget)
    throw err
  }
  // a module that failed to render is not remembered: the next target judges it afresh
  todo.forEach((f, i) => done[i]?.failure !== undefined && forget(f))
  const byFile = new Map(todo.map((f, i) => [f.file, done[i]]))
  return Promise.all(files.map((f) => byFile.get(f.file) ?? cache.get(key(f))))
}

/** One locked run of the core's session: start -> render -> apply -> finish. */
async function run(options, mode) {
  const session = new native.UpSession(
    await nativeOptions(options, {
      sha: options.sha,
      artifactsDir: options.artifactsDir,
      progress: Boolean(options.progress),
      verbose: Boolean(options.verbose),
      ...mode,
    }),
  )
  const onAbort = () => session.cancel(String(options.signal.reason ?? 'aborted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  let failure
  try {
    if (options.signal?.aborted) onAbort()
    // each chosen module comes with the exact text that was hashed and verified under the lock
    const files = await callNativeJson(() => session.start())
    const { dir, moduleTimeoutMs } = session.render
    const rendered = await renderCached(options.renderCache, files, (todo) =>
      renderModules(dir, todo.map((f) => f.file), { timeoutMs: moduleTimeoutMs, sources: todo.map((f) => f.source), exact: true }),
    )
    await callNative(() => session.apply(JSON.stringify(rendered)))
  } catch (err) {
    // The core records its own failures in the report; it is told of this one too, and keeps it
    // only when it recorded none (a JS-side failure, or a native call that ended unrecorded), so
    // no report says `error` without saying why.
    failure = err instanceof GodwitError ? `${err.code}: ${err.message}` : String(err?.message ?? err)
    // a JS-side failure: write the report (which releases the lock) and surface it
    if (!(err instanceof GodwitError)) {
      await callNative(() => session.finish(failure)).catch(() => {})
      throw err
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  // the rows stay in the core until read: the CLI's summary reads `counts`, not the rows
  const answer = await callNative(() => session.finish(failure))
  return parsedOnRead(JSON.parse(answer.report), 'migrations', () => answer.migrations())
}

/**
 * Where the database stands: every migration's state, read-only and without the lock. Bounded
 * by `timeout` (a duration; default MIGRATION_STATUS_TIMEOUT, else the configuration's
 * `statusTimeout`, else 10 s): connecting, and each query's lock and statement timeout.
 */
async function status(options = {}) {
  const answer = await callNative(native.status, await nativeOptions(options, { timeout: duration(options.timeout) }))
  // the rows are serialised by the core only when read: an API's start-up never reads them
  return parsedOnRead(JSON.parse(answer.report), 'migrations', () => answer.migrations())
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * Gives `object[key]` the value the JSON `text` holds (or a function gives: then the JSON itself
 * is made only when read), parsed when it is first read (or replaced when first written), then
 * an ordinary property: the report reads and serialises as if it had
 * been parsed whole, and a caller that never reads the rows (an API's start-up) never pays for them.
 * `console.log` and `util.inspect` read it too, so they show the rows, not an accessor.
 */
function parsedOnRead(object, key, text) {
  const settle = (value) => {
    delete object[INSPECT]
    return Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
  }
  Object.defineProperty(object, key, {
    enumerable: true,
    configurable: true,
    get: () => settle(JSON.parse(typeof text === 'function' ? text() : text))[key],
    set: (value) => {
      settle(value)
    },
  })
  Object.defineProperty(object, INSPECT, {
    configurable: true,
    value: (depth, options, inspect) => {
      void object[key]
      return inspect(object, { ...options, depth })
    },
  })
  return object
}

/** The schema fingerprint of the configured database (or `database` on the same server). */
async function fingerprint(options = {}) {
  return callNativeJson(native.fingerprint, { database: options.database })
}

/**
 * The migration-safety gate: frozen check, then up, up again and status on a scratch database,
 * and a rebuild in a second one; the scratch databases are always dropped. Resolves to its report.
 */
async function verify(options = {}) {
  return require('./lib/verify.js').verify({ check, up, down, status, fingerprint, schemaFile, serverVersion, loadConfig }, options)
}

/** The targets a caller gave: a targets file's path, or the targets themselves, checked. */
function fleetTargets(targets) {
  const t = require('./lib/targets.js')
  return typeof targets === 'string' ? t.readTargets(targets) : t.parseTargets(JSON.stringify(targets), 'targets')
}

/**
 * `up` on every target (docs/fleet.md): each its own locked, bounded `up` and report, at most
 * `concurrency` at a time within one budget; writes the fleet summary and resolves to it.
 */
async function upTargets(targets, options = {}) {
  // each target's up is told it is the migration job, so the fleet asks once, here
  refuseOutsideMigrationJob({ migrationJob: options.migrationJob ?? options.up?.migrationJob }, 'upTargets()')
  const fleet = require('./lib/fleet.js')
  const config = await loadConfig().catch(() => null)
  const summary = await fleet.upFleet(module.exports, fleetTargets(targets), { config: config?.run, ...options })
  const root = options.artifactsDir ?? path.join('.artifacts', 'deploy')
  return fleet.writeFleet(fleet.fleetPath(root, summary.sha, null), summary)
}

/**
 * The targets a query returns (columns `name`, and any of `database`, `schema`, `url_env`): run
 * on DATABASE_URL in a read-only transaction, bounded like `status`; each row checked as a
 * targets file's entry is. For `upTargets`/`statusTargets` when the list lives in a table.
 */
async function queryTargets(sql, options = {}) {
  const rows = await callNativeJson(native.queryRows, await nativeOptions(options, { timeout: duration(options.timeout) }), String(sql))
  return require('./lib/targets.js').targetsFromRows(rows)
}

/** `status` of every target, read-only and bounded; resolves to the fleet summary. */
async function statusTargets(targets, options = {}) {
  return require('./lib/fleet.js').statusFleet(module.exports, fleetTargets(targets), options)
}

/** Identity: gives `godwit.config.mjs` its types (`export default defineConfig({ ... })`). */
const defineConfig = (config) => config

/**
 * Identity: gives a migration object its types in an editor. A module still exports `up`,
 * `down` and `config` by name: `export const { up, down, config } = defineMigration({ ... })`.
 * Modules written as plain literals (what `create` writes, typed by JSDoc) are read without
 * being imported; a module that calls this is imported, which `check` bounds like any other.
 */
const defineMigration = (migration) => migration

module.exports = {
  GodwitError,
  defineConfig,
  defineMigration,
  assertSchemaCurrent,
  check,
  fingerprint,
  verify,
  down,
  reset,
  loadConfig,
  create,
  scan,
  status,
  plan,
  schemaFile,
  serverVersion,
  up,
  baseline,
  importMigrations,
  importTools: native.importTools,
  upTargets,
  statusTargets,
  queryTargets,
  coreVersion: native.coreVersion,
}
