// Runs in a worker thread: imports migration modules one at a time and renders their SQL.
// It reports `start` before each module so the parent can tell which one hangs, and terminate
// this worker (the only way to stop a synchronous infinite loop) without losing the others.
import { parentPort, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import path from 'node:path'

const KNOWN_EXPORTS = new Set(['up', 'down', 'config'])

function describe(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array containing ' + (v.length ? describe(v.find((x) => typeof x !== 'string') ?? v[0]) : 'nothing')
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'string') return 'a string'
  return `${typeof v === 'undefined' ? 'undefined' : 'a ' + typeof v}`
}

/** A string or array of strings, from a value or from what a (async) function returns. */
async function renderSql(value, which) {
  let v = value
  if (typeof v === 'function') {
    try {
      v = await v()
    } catch (err) {
      throw { kind: 'export', message: `\`${which}()\` threw: ${err && err.message ? err.message : String(err)}` }
    }
  }
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v
  const origin = typeof value === 'function' ? `\`${which}()\` returned` : `\`${which}\` is`
  throw { kind: 'export', message: `${origin} ${describe(v)}; it must be a SQL string or an array of SQL strings` }
}

/** JSON for Rust to judge; values JSON cannot carry are marked so messages can name them. */
function toJson(value) {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => {
      const t = typeof v
      if (t === 'function' || t === 'symbol' || t === 'bigint' || t === 'undefined') return { $jsType: t }
      return v
    }) ?? 'null',
  )
}

async function render(dir, file) {
  let mod
  try {
    mod = await import(pathToFileURL(path.join(dir, file)).href)
  } catch (err) {
    const where = err && err.stack ? String(err.stack).split('\n').find((l) => l.includes(file)) : undefined
    const msg = err && err.message ? `${err.name || 'Error'}: ${err.message}` : String(err)
    return { file, failure: { kind: 'import', message: `cannot be imported: ${msg}${where && !msg.includes(where.trim()) ? ` (${where.trim()})` : ''}` } }
  }
  const unknown = Object.keys(mod).filter((k) => !KNOWN_EXPORTS.has(k))
  if (unknown.length) {
    return { file, failure: { kind: 'export', message: `exports ${unknown.map((k) => `\`${k}\``).join(', ')}; a migration exports only \`up\`, and optionally \`down\` and \`config\`` } }
  }
  if (mod.up === undefined) {
    return { file, failure: { kind: 'export', message: 'does not export `up`' } }
  }
  try {
    const up = await renderSql(mod.up, 'up')
    const down = mod.down === undefined ? undefined : await renderSql(mod.down, 'down')
    const out = { file, up }
    if (down !== undefined) out.down = down
    if (mod.config !== undefined) out.config = toJson(mod.config)
    return out
  } catch (failure) {
    if (failure && failure.kind) return { file, failure }
    return { file, failure: { kind: 'export', message: String(failure) } }
  }
}

// A promise that never settles would let the worker's event loop drain and exit quietly; this
// keeps it alive so the parent's per-module timer is what ends a hung module.
const keepAlive = setInterval(() => {}, 1 << 30)
for (const file of workerData.files) {
  parentPort.postMessage({ type: 'start', file })
  parentPort.postMessage({ type: 'done', result: await render(workerData.dir, file) })
}
clearInterval(keepAlive)
