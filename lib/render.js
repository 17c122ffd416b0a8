'use strict'
// Imports migration modules and renders their SQL, off the main thread, with a bound per module.
// Node's part of the module contract is only this: load, call, and hand the strings to Rust.
//
// A module that is only literals never gets here: the core reads it (src/contract/literal.rs).
// Fast path: each worker imports its share of the modules concurrently (an import is mostly
// waiting on the loader, so a pool of them overlaps well), and bounds each module's async work
// itself. A module that blocks its worker synchronously (an infinite loop) stops all messages:
// the parent notices the silence, ends that worker, and renders the modules it had not finished
// one at a time (the careful path), which names the one that hangs and renders the rest.

const os = require('node:os')
const path = require('node:path')

const WORKER = path.join(__dirname, 'render-worker.mjs')
/** Modules in flight per worker on the fast path. */
const CONCURRENCY = 32

const timedOut = (file, timeoutMs) => ({
  file,
  failure: { kind: 'timeout', message: `did not finish importing and rendering within ${timeoutMs} ms` },
})
const crashedResult = (file, why) => ({ file, failure: { kind: 'import', message: `crashed its loader: ${why}` } })

/**
 * How long a worker may take to start (Node's worker bootstrap and the loader hooks) before its
 * first module: not part of any module's bound. Under a loaded CI machine a start took longer than
 * a 1 s `--module-timeout`, and the first module was reported as `module-timeout` though it never
 * began (seen in the fault suite: a module importing a missing file, charged with a timeout).
 */
const STARTUP_MS = 30_000

const notStarted = (file) => ({
  file,
  failure: { kind: 'timeout', message: `was not rendered: the worker that imports modules did not start within ${STARTUP_MS} ms (an overloaded machine); nothing of the module ran` },
})

/**
 * Runs one worker over `files` with `concurrency` modules in flight. Resolves to the files it
 * could not settle: [] when all are in `results`; otherwise those left when the worker went
 * silent for `timeoutMs` or crashed, with `blame` set to the file to charge when known.
 */
function runWorker(dir, files, timeoutMs, concurrency, results, sources) {
  if (files.length === 0) return Promise.resolve({ rest: [] })
  const own = Object.fromEntries(files.filter((f) => typeof sources.get(f) === 'string').map((f) => [f, sources.get(f)]))
  // required here, not at the top: loading worker_threads costs a start-up 2.5 ms, and `status`,
  // a no-op `up` and assertSchemaCurrent() never render a module
  const { Worker } = require('node:worker_threads')
  const worker = new Worker(WORKER, { workerData: { dir, files, concurrency, timeoutMs, sources: own } })
  return watchWorker(worker, files, timeoutMs, results)
}

/**
 * Watches a render worker (anything with `on`, `removeAllListeners` and `terminate`): its
 * `ready`, then per module `start` (one at a time) and `done`. Until `ready` the worker has
 * `startupMs` to start; from then on every `timeoutMs` of silence means a module blocks it.
 */
function watchWorker(worker, files, timeoutMs, results, startupMs = STARTUP_MS) {
  return new Promise((resolve) => {
    const pending = new Set(files)
    const started = []
    let ready = false
    let watchdog = null
    let settled = false
    const end = (outcome) => {
      if (settled) return
      settled = true
      clearTimeout(watchdog)
      worker.removeAllListeners()
      worker.terminate().catch(() => {})
      resolve(outcome)
    }
    const arm = () => {
      clearTimeout(watchdog)
      watchdog = ready
        ? // silence for a whole module bound: something blocks the worker's event loop
          setTimeout(() => end({ rest: [...pending], hung: true, started: started.filter((f) => pending.has(f)) }), timeoutMs)
        : setTimeout(() => end({ rest: [...pending], notStarted: true }), startupMs)
    }
    worker.on('message', (msg) => {
      if (msg.type === 'ready') ready = true
      arm()
      if (msg.type === 'start') {
        started.push(msg.file)
      } else if (msg.type === 'done') {
        results.set(msg.result.file, msg.result)
        pending.delete(msg.result.file)
        if (pending.size === 0) end({ rest: [] })
      }
    })
    // A module that kills its worker (process.exit, an uncaught error in a callback) fails alone.
    const crashed = (why) => {
      if (pending.size === 0) return end({ rest: [] })
      const inFlight = started.filter((f) => pending.has(f))
      end({ rest: [...pending], crashed: why, started: inFlight })
    }
    worker.on('error', (err) => crashed(err && err.message ? err.message : String(err)))
    worker.on('exit', (code) => crashed(`the worker exited with code ${code}`))
    arm()
  })
}

/**
 * Renders `files` one at a time in as many workers as it takes: a module that hangs or kills its
 * worker is charged alone and the others still render.
 */
async function renderCarefully(dir, files, timeoutMs, results, sources) {
  let rest = files
  while (rest.length > 0) {
    const out = await runWorker(dir, rest, timeoutMs, 1, results, sources)
    if (out.rest.length === 0) return
    if (out.notStarted) return chargeNone(out.rest, results)
    // one module at a time: the unfinished one that had started is the culprit
    const culprit = out.started?.[0] ?? out.rest[0]
    results.set(culprit, out.hung ? timedOut(culprit, timeoutMs) : crashedResult(culprit, out.crashed))
    rest = out.rest.filter((f) => f !== culprit)
  }
}

/** A worker that never started: no module began, so none is blamed; each says why it is unrendered. */
function chargeNone(files, results) {
  for (const f of files) results.set(f, notStarted(f))
}

async function renderShare(dir, files, timeoutMs, results, sources) {
  const out = await runWorker(dir, files, timeoutMs, CONCURRENCY, results, sources)
  if (out.rest.length === 0) return
  if (out.notStarted) return chargeNone(out.rest, results)
  if (out.rest.length === 1) {
    const [only] = out.rest
    results.set(only, out.hung ? timedOut(only, timeoutMs) : crashedResult(only, out.crashed))
    return
  }
  // several were in flight: find out which one, without charging the others
  await renderCarefully(dir, out.rest, timeoutMs, results, sources)
}

/**
 * @param {string} dir migrations folder
 * @param {string[]} files file names, in order
 * @param {{timeoutMs?: number, sources?: Array<string | null>}} [options] `sources[i]`: the text
 *   of `files[i]` the core read and hashed; the module is imported from exactly that text
 *   (loader hooks serve it), never from disk again
 * @returns {Promise<object[]>} one rendered entry per file, in the order given
 */
async function renderModules(dir, files, options = {}) {
  const timeoutMs = options.timeoutMs
  const results = new Map()
  const given = new Map(files.map((file, i) => [file, options.sources?.[i]]))
  // A worker costs ~30 ms to start; only large sets are worth spreading over cores.
  const workers = Math.max(1, Math.min(os.availableParallelism?.() ?? 2, 4, Math.floor(files.length / 200)))
  const shares = Array.from({ length: workers }, (_, i) => files.filter((_f, j) => j % workers === i))
  await Promise.all(shares.map((share) => renderShare(dir, share, timeoutMs, results, given)))
  return files.map((f) => results.get(f))
}

module.exports = { renderModules, watchWorker }
