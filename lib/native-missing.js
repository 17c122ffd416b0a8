'use strict'
// Why the native core could not be loaded, in godwit's words: what platform this is, which
// package should have carried the binary, and how to fix it.
const { GodwitError } = require('./errors.js')

function nativeMissing(cause) {
  const err = new GodwitError(
    'NATIVE_MISSING',
    `godwit's native core could not be loaded on ${process.platform}-${process.arch} (Node ${process.version}): ${cause && cause.message ? cause.message.split('\n')[0] : String(cause)}. ` +
      'Reinstall godwit with its optional dependencies, or build it from source with Rust (`pnpm build` in the godwit package).',
    70,
  )
  err.cause = cause
  return err
}

module.exports = { nativeMissing }
