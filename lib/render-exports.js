'use strict'
// The shape half of the module contract on the JS side: which exports a migration has, and
// turning `up`/`down` (a string, an array of strings, or a function returning either) into
// strings for Rust. The core's literal reader (src/contract/literal.rs) produces the same shape
// for a module of literals; __tests__/literal-module.test.mjs holds the two to the same result.

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

/** What a module's exports render to: `{file, up, down?, config?}` or `{file, failure}`. */
async function renderExports(file, mod) {
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

module.exports = { renderExports }
