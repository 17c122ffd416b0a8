'use strict'
// godwit's public JS API: the functions the CLI and programs call. The native core (loaded by
// napi's generated `binding.js`) does the exact work; this file adds what only Node can do,
// importing migration modules, and turns native errors into `GodwitError`s with a stable `code`.

const path = require('node:path')
const native = require('./binding.js')
const { GodwitError, callNative, callNativeJson } = require('./lib/errors.js')
const { renderModules, DEFAULT_MODULE_TIMEOUT_MS } = require('./lib/render.js')
const { findConfig, positiveMs } = require('./lib/config.js')

const DEFAULT_DIR = path.join('db', 'migrations')

/**
 * The project configuration (package.json `godwit` key or godwit.config.mjs in the current
 * directory), validated by the core. Options passed to a function override it.
 */
async function loadConfig() {
  const { raw, source } = await findConfig()
  const validated = await callNative(async () => native.config(raw, source ?? undefined))
  return { raw, source, ...validated }
}

/**
 * What every command starts from: the configuration and the settings only Node applies. Each
 * setting is the first of: the option passed (the CLI's flag), the environment, the
 * configuration, the default. The core applies the same order to the settings it owns.
 */
async function context(options) {
  const cfg = await loadConfig()
  const env = (name) => (process.env[name] ?? '').trim() || undefined
  const dir = path.resolve(options.dir ?? env('MIGRATION_DIR') ?? cfg.dir ?? DEFAULT_DIR)
  let moduleTimeoutMs = options.moduleTimeoutMs
  if (moduleTimeoutMs === undefined && env('MIGRATION_MODULE_TIMEOUT') !== undefined) {
    moduleTimeoutMs = positiveMs(env('MIGRATION_MODULE_TIMEOUT'))
    if (moduleTimeoutMs === null) {
      throw new GodwitError('CONFIG', `MIGRATION_MODULE_TIMEOUT must be a positive whole number of milliseconds, got \`${process.env.MIGRATION_MODULE_TIMEOUT}\``, 2)
    }
  }
  moduleTimeoutMs ??= cfg.run.moduleTimeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS
  return { dir, moduleTimeoutMs, config: cfg.raw, configSource: cfg.source ?? undefined }
}

/** Create a migration from the template and seal it into the ledger. */
async function create(name, options = {}) {
  return callNativeJson(native.create, (await context(options)).dir, String(name))
}

/** The migration files that meet the filename contract, with checksums; no module is imported. */
async function scan(options = {}) {
  return callNativeJson(native.scan, (await context(options)).dir)
}

/**
 * The policy gate. Imports every migration module, renders its SQL, and returns the same document
 * `godwit check --json` prints. Locally it seals new migrations into the ledger; frozen (CI or
 * `frozen: true`) it never writes.
 */
async function check(options = {}) {
  const { dir, moduleTimeoutMs, config, configSource } = await context(options)
  const session = await callNative(async () =>
    new native.CheckSession({ dir, frozen: Boolean(options.frozen), base: options.base, config, configSource }),
  )
  try {
    // the folder is read once, in Rust; its text comes along for the literal reader
    const files = await callNativeJson(() => session.prepare())
    const rendered = await renderModules(
      dir,
      files.map((f) => f.file),
      { timeoutMs: moduleTimeoutMs, sources: files.map((f) => f.source) },
    )
    return await callNativeJson(() => session.finish(JSON.stringify(rendered)))
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
  refuseOutsideMigrationJob(options)
  return run(options, {})
}

/**
 * The playbook: production migrations run in the pipeline's migration job, never at API
 * start-up, where every replica would race for the lock and a slow migration would hold back
 * the rollout. An API that calls `up()` under NODE_ENV=production is refused before anything is
 * read or connected; the job declares itself with MIGRATION_JOB=1 (the CLI always does).
 */
function refuseOutsideMigrationJob(options) {
  if (process.env.NODE_ENV !== 'production' || options.migrationJob) return
  if (['1', 'true'].includes((process.env.MIGRATION_JOB ?? '').trim().toLowerCase())) return
  throw new GodwitError(
    'NOT_MIGRATION_JOB',
    'up() was called under NODE_ENV=production by a program that is not the migration job. ' +
      'The playbook runs production migrations only from the pipeline\'s migration job (`pnpm db:migrate:up`), ' +
      'never at API start-up; at start-up call assertSchemaCurrent() instead. ' +
      'If this process is the migration job, set MIGRATION_JOB=1 (or pass { migrationJob: true }).',
    2,
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
    1,
  )
  err.status = report
  throw err
}

/**
 * Local development only: revert the newest `count` applied migrations (default 1; 0 = all) by
 * running their `down`, newest first, each with its history row marked `reverted`. Refuses under
 * NODE_ENV=production, in CI and against a non-local server unless `allowNonLocal` is set.
 * Resolves to a report like `up`'s (`command: 'down'`).
 */
async function down(options = {}) {
  const count = options.count ?? 1
  if (!Number.isInteger(count) || count < 0) {
    throw new GodwitError('USAGE', `count must be a whole number of migrations (0 for all), got ${count}`, 2)
  }
  return run(options, { down: count, allowNonLocal: Boolean(options.allowNonLocal) })
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

/** One locked run of the core's session: start -> render -> apply -> finish. */
async function run(options, mode) {
  const { dir, moduleTimeoutMs, config, configSource } = await context(options)
  const session = new native.UpSession({
    dir,
    config,
    configSource,
    schema: options.schema,
    table: options.table,
    sha: options.sha,
    artifactsDir: options.artifactsDir,
    progress: Boolean(options.progress),
    verbose: Boolean(options.verbose),
    database: options.database,
    ...mode,
  })
  const onAbort = () => session.cancel(String(options.signal.reason ?? 'aborted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (options.signal?.aborted) onAbort()
    const files = await callNative(() => session.start())
    const rendered = await renderModules(dir, files, {
      timeoutMs: moduleTimeoutMs,
    })
    await callNative(() => session.apply(JSON.stringify(rendered)))
  } catch (err) {
    // recorded in the report by the core; a JS-side failure is not, so release the lock, write
    // the report, and surface it
    if (!(err instanceof GodwitError)) {
      await callNativeJson(() => session.finish()).catch(() => {})
      throw err
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  return callNativeJson(() => session.finish())
}

/** Where the database stands: every migration's state, read-only and without the lock. */
async function status(options = {}) {
  const { dir, config, configSource } = await context(options)
  return callNativeJson(native.status, {
    dir,
    config,
    configSource,
    schema: options.schema,
    table: options.table,
    database: options.database,
  })
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
  return require('./lib/verify.js').verify({ check, up, down, status, fingerprint }, options)
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
  up,
  coreVersion: native.coreVersion,
}
