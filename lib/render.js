'use strict'
// Imports migration modules and renders their SQL, off the main thread, with a bound per module.
// Node's part of the module contract is only this: load, call, and hand the strings to Rust.

const { Worker } = require('node:worker_threads')
const os = require('node:os')
const path = require('node:path')

const WORKER = path.join(__dirname, 'render-worker.mjs')
/** How long one module may take to import and render before it counts as hung. */
const DEFAULT_MODULE_TIMEOUT_MS = 10_000

/** Render `files` (names inside `dir`) in a worker; a hung module is reported and skipped. */
function renderChunk(dir, files, timeoutMs, results) {
  return new Promise((resolve) => {
    if (files.length === 0) return resolve()
    const worker = new Worker(WORKER, { workerData: { dir, files } })
    let current = null
    let timer = null
    let finished = false
    const done = new Set()
    const finish = (restFrom) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      worker.removeAllListeners()
      worker.terminate().catch(() => {})
      const rest = restFrom === undefined ? [] : files.filter((f) => !done.has(f) && f !== restFrom)
      renderChunk(dir, rest, timeoutMs, results).then(resolve)
    }
    worker.on('message', (msg) => {
      if (msg.type === 'start') {
        current = msg.file
        clearTimeout(timer)
        timer = setTimeout(() => {
          results.set(current, {
            file: current,
            failure: { kind: 'timeout', message: `did not finish importing and rendering within ${timeoutMs} ms` },
          })
          done.add(current)
          finish(current)
        }, timeoutMs)
      } else if (msg.type === 'done') {
        clearTimeout(timer)
        results.set(msg.result.file, msg.result)
        done.add(msg.result.file)
        if (done.size === files.length) finish()
      }
    })
    // A module that kills its worker (process.exit, an uncaught error in a callback) fails alone.
    const crashed = (why) => {
      if (finished) return
      const file = current ?? files.find((f) => !done.has(f))
      if (file !== undefined) {
        results.set(file, { file, failure: { kind: 'import', message: `crashed its loader: ${why}` } })
        done.add(file)
      }
      finish(file)
    }
    worker.on('error', (err) => crashed(err && err.message ? err.message : String(err)))
    worker.on('exit', (code) => {
      if (done.size < files.length) crashed(`the worker exited with code ${code}`)
    })
  })
}

/**
 * @param {string} dir migrations folder
 * @param {string[]} files file names, in order
 * @param {{timeoutMs?: number}} [options]
 * @returns {Promise<object[]>} one rendered entry per file, in the order given
 */
async function renderModules(dir, files, options = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS
  const results = new Map()
  // A worker costs ~30 ms to start; only large sets are worth spreading over cores.
  const workers = Math.max(1, Math.min(os.availableParallelism?.() ?? 2, 4, Math.floor(files.length / 200)))
  const chunks = Array.from({ length: workers }, (_, i) => files.filter((_f, j) => j % workers === i))
  await Promise.all(chunks.map((c) => renderChunk(dir, c, timeoutMs, results)))
  return files.map((f) => results.get(f))
}

module.exports = { renderModules, DEFAULT_MODULE_TIMEOUT_MS }
