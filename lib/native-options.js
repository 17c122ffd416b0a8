'use strict'
// What every native call is given: the caller's options and the configuration Node found. Shared
// by the API (index.js) and the CLI commands that call the core directly.

const { findConfig } = require('./config.js')

/** A duration option as the core takes it: milliseconds (a number) or a duration string. */
const duration = (v) => (v === undefined || v === null ? undefined : String(v))

/**
 * The options the core resolves: what the caller passed, and the configuration Node found. Every
 * setting's precedence (option > environment > configuration > default) is the core's.
 */
async function nativeOptions(options, extra = {}) {
  const { raw, source } = await findConfig()
  return {
    dir: options.dir,
    config: raw ?? undefined,
    configSource: source ?? undefined,
    moduleTimeout: duration(options.moduleTimeoutMs ?? options.moduleTimeout),
    schema: options.schema,
    table: options.table,
    database: options.database,
    allowExistingSchema: options.allowExistingSchema,
    // a fleet's target (lib/fleet.js): its DATABASE_URL and budget, its report folder, its schema
    env: options.env,
    target: options.target,
    onlySchema: options.onlySchema,
    ...extra,
  }
}

module.exports = { duration, nativeOptions }
