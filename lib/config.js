'use strict'
// Finds the project's one configuration source: the `godwit` key of ./package.json, or
// ./godwit.config.mjs (default export). Both at once is an error: two sources drift apart.
// Validation (unknown keys, values) is the core's, so it is the same for every caller.

const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { GodwitError } = require('./errors.js')

const CONFIG_FILE = 'godwit.config.mjs'

/** The raw configuration object (or null) and where it came from, for `cwd`. */
async function findConfig(cwd = process.cwd()) {
  let fromPackage
  const pkgPath = path.join(cwd, 'package.json')
  if (fs.existsSync(pkgPath)) {
    let pkg
    try {
      pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'))
    } catch (err) {
      throw new GodwitError('CONFIG', `package.json: not valid JSON (${err.message})`, 2)
    }
    if (pkg && Object.hasOwn(pkg, 'godwit')) fromPackage = pkg.godwit
  }
  const filePath = path.join(cwd, CONFIG_FILE)
  const hasFile = fs.existsSync(filePath)
  if (hasFile && fromPackage !== undefined) {
    throw new GodwitError('CONFIG', `both package.json#godwit and ${CONFIG_FILE} configure godwit; keep one`, 2)
  }
  if (hasFile) {
    let mod
    try {
      mod = await import(pathToFileURL(filePath).href)
    } catch (err) {
      throw new GodwitError('CONFIG', `${CONFIG_FILE}: cannot be imported (${err.message})`, 2)
    }
    return { raw: mod.default ?? null, source: CONFIG_FILE }
  }
  if (fromPackage !== undefined) return { raw: fromPackage, source: 'package.json#godwit' }
  return { raw: null, source: null }
}

/**
 * A module timeout as `--module-timeout` and MIGRATION_MODULE_TIMEOUT take it: a positive whole
 * number of milliseconds, or null (the caller says which input was wrong).
 */
function positiveMs(text) {
  const ms = Number(text)
  return Number.isInteger(ms) && ms > 0 ? ms : null
}

module.exports = { findConfig, CONFIG_FILE, positiveMs }
