'use strict'
// Coded errors for the JS side. The native core sends `{code, exitCode, message}` as the reason
// of a plain napi error (async napi functions cannot carry a custom status); this rebuilds it.
// Exit codes come from the core's one table (`error.rs`); JS never writes one down.

let table
/** The exit code of an error code, from the core's table (70 when the core cannot be asked). */
function exitFor(code) {
  if (!table) {
    try {
      table = require('./native.js').errorCodes()
    } catch {
      table = {}
    }
  }
  return table[code] ?? 70
}

class GodwitError extends Error {
  /**
   * @param {string} code stable UPPER_SNAKE code
   * @param {string} message
   * @param {number} [exitCode] the CLI's exit code; by default the core's for `code`
   */
  constructor(code, message, exitCode) {
    super(message)
    this.name = 'GodwitError'
    this.code = code
    this.exitCode = exitCode ?? exitFor(code)
  }
}

function fromNative(err) {
  if (err instanceof GodwitError) return err
  const text = err && typeof err.message === 'string' ? err.message : String(err)
  try {
    const wire = JSON.parse(text)
    if (wire && typeof wire.code === 'string') {
      return new GodwitError(wire.code, wire.message, wire.exitCode)
    }
  } catch {
    // not a wire error: fall through
  }
  return new GodwitError('INTERNAL', text)
}

/** Await a native call, turning its errors into GodwitErrors. */
async function callNative(fn, ...args) {
  try {
    return await fn(...args)
  } catch (err) {
    throw fromNative(err)
  }
}

/** A native call that returns a document as JSON text (see src/binding/mod.rs), parsed. */
async function callNativeJson(fn, ...args) {
  return JSON.parse(await callNative(fn, ...args))
}

module.exports = { GodwitError, fromNative, callNative, callNativeJson, exitFor }
