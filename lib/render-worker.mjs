// Runs in a worker thread: imports migration modules and renders their SQL, `concurrency` at a
// time. One at a time it reports `start` before each module, so the parent can tell which one
// hangs and terminate this worker (the only way to stop a synchronous infinite loop).
import { parentPort, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import { createRequire, register } from 'node:module'

const { renderExports } = createRequire(import.meta.url)('./render-exports.js')
const { dir, files, concurrency, timeoutMs, sources = {} } = workerData

// Modules are loaded from the text the core verified (see render-hooks.mjs), not from disk.
const urls = Object.fromEntries(Object.entries(sources).map(([file, text]) => [pathToFileURL(path.join(dir, file)).href, text]))
if (Object.keys(urls).length) register('./render-hooks.mjs', { parentURL: import.meta.url, data: { sources: urls } })

async function render(dir, file) {
  let mod
  try {
    mod = await import(pathToFileURL(path.join(dir, file)).href)
  } catch (err) {
    const where = err && err.stack ? String(err.stack).split('\n').find((l) => l.includes(file)) : undefined
    const msg = err && err.message ? `${err.name || 'Error'}: ${err.message}` : String(err)
    return { file, failure: { kind: 'import', message: `cannot be imported: ${msg}${where && !msg.includes(where.trim()) ? ` (${where.trim()})` : ''}` } }
  }
  return renderExports(file, mod)
}

// A promise that never settles would let the worker's event loop drain and exit quietly; this
// keeps it alive so a hung module is reported by a timer, here or in the parent.
const keepAlive = setInterval(() => {}, 1 << 30)

/** `render`, bounded: a module whose async work never settles is reported, not waited for. */
function bounded(file) {
  let timer
  const late = new Promise((resolve) => {
    timer = setTimeout(
      () => resolve({ file, failure: { kind: 'timeout', message: `did not finish importing and rendering within ${timeoutMs} ms` } }),
      timeoutMs,
    )
  })
  return Promise.race([render(dir, file), late]).finally(() => clearTimeout(timer))
}

// started: from here on the parent bounds each module, not the worker's own start
parentPort.postMessage({ type: 'ready' })

let next = 0
async function lane() {
  while (next < files.length) {
    const file = files[next++]
    // one at a time, the parent is told which module runs, so a synchronous hang is pinned on it
    if (concurrency === 1) parentPort.postMessage({ type: 'start', file })
    parentPort.postMessage({ type: 'done', result: await bounded(file) })
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, lane))
clearInterval(keepAlive)
