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
      throw new GodwitError('CONFIG', `package.json: not valid JSON (${err.message})`)
    }
    if (pkg && Object.hasOwn(pkg, 'godwit')) fromPackage = pkg.godwit
  }
  const filePath = path.join(cwd, CONFIG_FILE)
  const hasFile = fs.existsSync(filePath)
  if (hasFile && fromPackage !== undefined) {
    throw new GodwitError('CONFIG', `both package.json#godwit and ${CONFIG_FILE} configure godwit; keep one`)
  }
  if (hasFile) {
    let mod
    try {
      mod = await import(pathToFileURL(filePath).href)
    } catch (err) {
      throw new GodwitError('CONFIG', `${CONFIG_FILE}: cannot be imported (${err.message})`)
    }
    return { raw: mod.default ?? null, source: CONFIG_FILE }
  }
  if (fromPackage !== undefined) return { raw: fromPackage, source: 'package.json#godwit' }
  return { raw: null, source: null }
}

/**
 * Sets `baseline` in the project's configuration (after `import`): in package.json#godwit, kept
 * with its indentation; a godwit.config.mjs is code, so it is not rewritten: the returned
 * `{ written: false, instruction }` says what to add. No package.json: one is not invented.
 */
function setBaseline(version, cwd = process.cwd()) {
  const filePath = path.join(cwd, CONFIG_FILE)
  if (fs.existsSync(filePath)) {
    return { written: false, instruction: `add \`baseline: '${version}'\` to the object ${CONFIG_FILE} exports` }
  }
  const pkgPath = path.join(cwd, 'package.json')
  if (!fs.existsSync(pkgPath)) {
    return { written: false, instruction: `add "godwit": { "baseline": "${version}" } to the project's package.json` }
  }
  const text = fs.readFileSync(pkgPath, 'utf8')
  let pkg
  try {
    pkg = JSON.parse(text)
  } catch (err) {
    throw new GodwitError('CONFIG', `package.json: not valid JSON (${err.message})`)
  }
  const indent = text.match(/^[ \t]+(?=")/m)?.[0] ?? '  '
  pkg.godwit = { ...pkg.godwit, baseline: version }
  require('./write.js').writeSynced(pkgPath, JSON.stringify(pkg, null, indent) + (text.endsWith('\n') ? '\n' : ''))
  return { written: true, file: 'package.json#godwit.baseline' }
}

module.exports = { findConfig, setBaseline, CONFIG_FILE }
