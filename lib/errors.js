'use strict'
// Coded errors for the JS side. The native core sends `{code, exitCode, message}` as the reason
// of a plain napi error (async napi functions cannot carry a custom status); this rebuilds it.

class GodwitError extends Error {
  /**
   * @param {string} code stable UPPER_SNAKE code
   * @param {string} message
   * @param {number} exitCode the CLI's exit code for this failure
   */
  constructor(code, message, exitCode) {
    super(message)
    this.name = 'GodwitError'
    this.code = code
    this.exitCode = exitCode
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
  return new GodwitError('INTERNAL', text, 70)
}

/** Await a native call, turning its errors into GodwitErrors. */
async function callNative(fn, ...args) {
  try {
    return await fn(...args)
  } catch (err) {
    throw fromNative(err)
  }
}

/** A native call that returns a document as JSON text (see binding.rs), parsed. */
async function callNativeJson(fn, ...args) {
  return JSON.parse(await callNative(fn, ...args))
}

module.exports = { GodwitError, fromNative, callNative, callNativeJson }
