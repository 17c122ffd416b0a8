'use strict'
// godwit's public JS API: the functions the CLI and programs call. The native core (loaded by
// napi's generated `binding.js`) does the exact work; this file adds what only Node can do,
// importing migration modules, and turns native errors into `GodwitError`s with a stable `code`.

const path = require('node:path')
const native = require('./binding.js')
const { GodwitError, callNative } = require('./lib/errors.js')
const { renderModules, DEFAULT_MODULE_TIMEOUT_MS } = require('./lib/render.js')

const DEFAULT_DIR = path.join('db', 'migrations')

function resolveDir(dir) {
  return path.resolve(dir ?? DEFAULT_DIR)
}

/** Create a migration from the template and seal it into the ledger. */
async function create(name, options = {}) {
  return callNative(native.create, resolveDir(options.dir), String(name))
}

/** The migration files that meet the filename contract, with checksums; no module is imported. */
async function scan(options = {}) {
  return callNative(native.scan, resolveDir(options.dir))
}

/**
 * The policy gate. Imports every migration module, renders its SQL, and returns the same document
 * `godwit check --json` prints. Locally it seals new migrations into the ledger; frozen (CI or
 * `frozen: true`) it never writes.
 */
async function check(options = {}) {
  const dir = resolveDir(options.dir)
  const scanned = await callNative(native.scan, dir)
  const rendered = await renderModules(
    dir,
    scanned.migrations.map((m) => m.file),
    { timeoutMs: options.moduleTimeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS },
  )
  return callNative(native.check, { dir, frozen: Boolean(options.frozen), base: options.base }, rendered)
}

module.exports = {
  GodwitError,
  check,
  create,
  scan,
  coreVersion: native.coreVersion,
}
