'use strict'
// Reads a migration module that is nothing but literals without running it.
//
// Most migrations are `export const up = '...'` or a template literal without `${}`, perhaps with
// a literal `down` and `config`. Importing such a module has no effect beyond producing those
// values, so parsing it (with acorn, a real ECMAScript parser) gives exactly what an import would,
// at a fraction of the cost, cold or warm. This is why no rendered-SQL cache exists: nothing is
// left to cache, and a cache keyed by a file's checksum would be wrong for a module that reads its
// environment or imports another file.
//
// Anything not of that exact form (a function, an expression, an import, `export default`, a
// number with a sign, a syntax error, an unknown export) returns null and is imported by Node as
// usual, which also produces the real error messages.

const acorn = require('acorn')

const EXPORTS = new Set(['up', 'down', 'config'])

/** The value of a literal expression node, or `NOT` when it is anything else. */
const NOT = Symbol('not a literal')
function literal(node, allowObject) {
  switch (node.type) {
    case 'Literal':
      // strings, numbers, booleans, null; not regular expressions or bigints
      return node.regex || node.bigint !== undefined ? NOT : node.value
    case 'TemplateLiteral':
      return node.expressions.length === 0 && node.quasis.length === 1 && typeof node.quasis[0].value.cooked === 'string'
        ? node.quasis[0].value.cooked
        : NOT
    case 'ArrayExpression': {
      const out = []
      for (const el of node.elements) {
        if (el === null || el.type === 'SpreadElement') return NOT
        const v = literal(el, false)
        if (v === NOT) return NOT
        out.push(v)
      }
      return out
    }
    case 'ObjectExpression': {
      if (!allowObject) return NOT
      const out = {}
      for (const p of node.properties) {
        if (p.type !== 'Property' || p.kind !== 'init' || p.computed || p.method || p.shorthand) return NOT
        const key = p.key.type === 'Identifier' ? p.key.name : p.key.type === 'Literal' && typeof p.key.value === 'string' ? p.key.value : NOT
        if (key === NOT || key === '__proto__' || Object.hasOwn(out, key)) return NOT
        const v = literal(p.value, true)
        if (v === NOT) return NOT
        out[key] = v
      }
      return out
    }
    default:
      return NOT
  }
}

/**
 * The module's exports when its source is only `export const up|down|config = <literal>`
 * declarations (comments allowed); otherwise null.
 * @param {string} source
 * @returns {{up?: unknown, down?: unknown, config?: unknown} | null}
 */
function readLiteralModule(source) {
  // A BOM or a hashbang line: let Node's own loader deal with them.
  if (source.charCodeAt(0) === 0xfeff || source.startsWith('#!')) return null
  let ast
  try {
    ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module' })
  } catch {
    return null
  }
  const out = {}
  for (const stmt of ast.body) {
    if (stmt.type !== 'ExportNamedDeclaration' || stmt.source || !stmt.declaration) return null
    const decl = stmt.declaration
    if (decl.type !== 'VariableDeclaration' || decl.kind !== 'const') return null
    for (const d of decl.declarations) {
      if (d.id.type !== 'Identifier' || !EXPORTS.has(d.id.name) || !d.init) return null
      const v = literal(d.init, d.id.name === 'config')
      if (v === NOT) return null
      out[d.id.name] = v
    }
  }
  return out
}

module.exports = { readLiteralModule }
