'use strict'
// godwit's public JS API: the functions the CLI and programs call. The native core (loaded by
// napi's generated `binding.js`) does the exact work; this file adds what only Node can do,
// importing migration modules, and turns native errors into `GodwitError`s with a stable `code`.

const path = require('node:path')
const native = require('./binding.js')
const { GodwitError, callNative, callNativeJson } = require('./lib/errors.js')
const { renderModules, DEFAULT_MODULE_TIMEOUT_MS } = require('./lib/render.js')
const { findConfig } = require('./lib/config.js')

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

async function resolveDir(dir) {
  if (dir !== undefined) return path.resolve(dir)
  const cfg = await loadConfig()
  return path.resolve(cfg.dir ?? DEFAULT_DIR)
}

/** Create a migration from the template and seal it into the ledger. */
async function create(name, options = {}) {
  return callNativeJson(native.create, await resolveDir(options.dir), String(name))
}

/** The migration files that meet the filename contract, with checksums; no module is imported. */
async function scan(options = {}) {
  return callNativeJson(native.scan, await resolveDir(options.dir))
}

/**
 * The policy gate. Imports every migration module, renders its SQL, and returns the same document
 * `godwit check --json` prints. Locally it seals new migrations into the ledger; frozen (CI or
 * `frozen: true`) it never writes.
 */
async function check(options = {}) {
  const cfg = await loadConfig()
  const dir = path.resolve(options.dir ?? cfg.dir ?? DEFAULT_DIR)
  const session = await callNative(async () =>
    new native.CheckSession({ dir, frozen: Boolean(options.frozen), base: options.base, config: cfg.raw, configSource: cfg.source ?? undefined }),
  )
  try {
    // the folder is read once, in Rust; its text comes along for the literal reader
    const files = await callNativeJson(() => session.prepare())
    const rendered = await renderModules(
      dir,
      files.map((f) => f.file),
      { timeoutMs: options.moduleTimeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS, sources: files.map((f) => f.source) },
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
 * only if the report itself cannot be written.
 */
async function up(options = {}) {
  return run(options, {})
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
  const dir = await resolveDir(options.dir)
  const session = new native.UpSession({
    dir,
    schema: options.schema,
    table: options.table,
    sha: options.sha,
    artifactsDir: options.artifactsDir,
    progress: Boolean(options.progress),
    database: options.database,
    ...mode,
  })
  const onAbort = () => session.cancel(String(options.signal.reason ?? 'aborted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (options.signal?.aborted) onAbort()
    const files = await callNative(() => session.start())
    const rendered = await renderModules(dir, files, {
      timeoutMs: options.moduleTimeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS,
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
  return callNativeJson(native.status, {
    dir: await resolveDir(options.dir),
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

module.exports = {
  GodwitError,
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
