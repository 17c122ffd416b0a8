'use strict'
// The exit codes by name, from the core's one table (`error.rs`): `EXIT.NOT_CLEAN`, ...
const native = require('./native.js')

const rows = native.exitCodes()
const EXIT = Object.freeze(Object.fromEntries(rows.map((r) => [r.name, r.code])))
/** `[code, meaning]` rows for `--help`. */
const EXIT_CODES = rows.map((r) => [r.code, r.meaning])

module.exports = { EXIT, EXIT_CODES }
