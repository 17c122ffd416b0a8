// The core's literal reader (src/contract/literal.rs) must never disagree with Node: for every
// module in every fixture folder, the project's own migrations and thousands of generated ones, it
// either declines (null: the module is imported as usual) or renders exactly what importing the
// module renders.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import { FIXTURES, ROOT } from './helpers.mjs'

const require = createRequire(import.meta.url)
const native = require('../lib/native.js')
const { renderExports } = require('../lib/render-exports.js')

/** What the core reads `source` as, in the shape Node renders (`null`: left to Node). */
function coreReads(file, source) {
  const json = native.readLiteralModule(file, source)
  return json === null ? null : JSON.parse(json)
}

/**
 * What the core makes of Node's rendering: the JSON it receives, where a `null` is an absent
 * field (`Option` in the core), as the literal reader's answer leaves it out.
 */
function asTheCoreReadsIt(rendered) {
  const out = JSON.parse(JSON.stringify(rendered))
  for (const [k, v] of Object.entries(out)) if (v === null) delete out[k]
  return out
}

/** What importing `source` renders, as the core reads it. */
async function nodeRenders(file, source) {
  const mod = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`)
  return asTheCoreReadsIt(await renderExports(file, mod))
}

function modulesUnder(dir) {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e)
    if (statSync(p).isDirectory()) return modulesUnder(p)
    return e.endsWith('.mjs') ? [p] : []
  })
}

// modules that hang or kill their loader are not imported here
const SKIP = /module-hangs|module-throws-on-import|up-throws/

test('the_literal_reader_agrees_with_import_on_every_fixture_module', async () => {
  const files = [...modulesUnder(FIXTURES), ...modulesUnder(path.join(ROOT, 'db', 'migrations'))].filter((f) => !SKIP.test(f))
  let read = 0
  let declined = 0
  for (const file of files) {
    const name = path.basename(file)
    const literal = coreReads(name, readFileSync(file, 'utf8'))
    if (literal === null) {
      declined++
      continue
    }
    read++
    let imported
    try {
      imported = await import(pathToFileURL(file).href)
    } catch (err) {
      assert.fail(`${file}: the literal reader read a module Node cannot import (${err.message})`)
    }
    assert.deepEqual(literal, asTheCoreReadsIt(await renderExports(name, imported)), file)
  }
  assert.ok(read >= 50, `read ${read} literal modules`)
  assert.ok(declined >= 5, `declined ${declined} non-literal modules`)
})

test('the_literal_reader_declines_everything_that_is_not_a_plain_literal', () => {
  const declined = [
    'export const up = `CREATE TABLE t_${Date.now()} ()`',
    'export const up = () => "SELECT 1"',
    "export const up = process.env.X ? 'a' : 'b'",
    "import x from './x.mjs'\nexport const up = 'SELECT 1'",
    "export let up = 'SELECT 1'",
    "export default 'SELECT 1'",
    "const up = 'SELECT 1'\nexport { up }",
    "export const up = 'SELECT 1'\nconsole.log('side effect')",
    "export const up = 'SELECT 1'\n+ 'more'",
    "export const up = 'SELECT 1'\nexport const config = { lockTimeout: -1 }",
    "export const up = 'SELECT 1'\nexport const config = { [k]: true }",
    "export const up = 'SELECT 1'\nexport const config = { __proto__: { transaction: false } }",
    "export const up = 'SELECT 1'\nexport const donw = 'DROP TABLE t'",
    "export const up = ['SELECT 1', ...more]",
    "export const up = 'SELECT 1'\nexport const up = 'SELECT 2'",
    "export const up = 'unterminated",
    "\ufeffexport const up = 'SELECT 1'",
    "#!/usr/bin/env node\nexport const up = 'SELECT 1'",
    'export const up = /SELECT/',
    'export const up = 1n',
    'export const up = String.raw`SELECT 1`',
    "export const config = { transaction: false }",
  ]
  for (const src of declined) assert.equal(coreReads('f.mjs', src), null, src)
  assert.deepEqual(
    coreReads('f.mjs', "// c\nexport const up = `SELECT\\t1`, down = ['a', \"b\"]\n/* c */\nexport const config = { transaction: false, 'lockTimeout': '5s', ignore: { x: 'y' } };"),
    { file: 'f.mjs', up: ['SELECT\t1'], down: ['a', 'b'], config: { transaction: false, lockTimeout: '5s', ignore: { x: 'y' } } },
  )
})

// A small deterministic generator (no dependency): the same cases on every run.
function* random(seed) {
  let x = seed >>> 0
  for (;;) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    yield (x >>> 0) / 2 ** 32
  }
}

// pieces of string bodies that stress cooking: escapes of every kind (valid and not), line
// breaks, quotes, `${`, non-ASCII and the two line separators
const PIECES = [
  'SELECT 1', ' ', 'é', '😀', '\u2028', '\u2029', '\n', '\r\n', '\r', '\t', "'", '"', '`', '$', '${x}', '$ {', '{',
  '\\n', '\\r', '\\t', '\\b', '\\f', '\\v', '\\0', '\\01', '\\1', '\\8', '\\x41', '\\x4', '\\u0042', '\\u{1F600}', '\\u{}',
  '\\u{110000}', '\\uD83D\\uDE00', '\\uD83D', '\\q', '\\\\', "\\'", '\\"', '\\`', '\\$', '\\\n', '\\\r\n', '\\\u2028', '--',
  '/*', '*/', '//',
]
const VALUES = ['0', '1', '10', '007', '1.5', '1e3', '0x10', '1_0', '-1', 'true', 'false', 'null', 'undefined', "'5s'", '`15min`', '9007199254740991', '9007199254740992']
const TRIVIA = [' ', '', '\n', '\t', '/* c */', '/*\n*/', '// c\n', '\u00a0', '\r\n', ';', ';\n']

test('the_literal_reader_agrees_with_import_on_generated_modules', async () => {
  const rnd = random(20261204)
  const pick = (list) => list[Math.floor(rnd.next().value * list.length)]
  const body = () => Array.from({ length: 1 + Math.floor(rnd.next().value * 5) }, () => pick(PIECES)).join('')
  const quoted = () => {
    const q = pick(["'", '"', '`'])
    return q + body() + q
  }
  const sql = () => (rnd.next().value < 0.8 ? quoted() : `[${quoted()}, ${quoted()}${pick(['', ','])}]`)
  const config = () =>
    rnd.next().value < 0.1 ? pick(['null', '[]', "'x'", '1']) : `{ ${pick(['transaction', "'lockTimeout'", 'ignore', 'x'])}: ${pick(VALUES)}${pick(['', `, y: ${pick(VALUES)}`, ', y: { z: 1 }'])} }`
  let read = 0
  let declined = 0
  for (let i = 0; i < 3000; i++) {
    let source = `export const up = ${sql()}${pick(TRIVIA)}`
    if (rnd.next().value < 0.5) source += `${pick(['\n', ';', ' '])}export const down = ${sql()}${pick(TRIVIA)}`
    if (rnd.next().value < 0.4) source += `${pick(['\n', ';'])}export const config = ${config()}${pick(TRIVIA)}`
    const literal = coreReads('g.mjs', source)
    let imported
    try {
      imported = await nodeRenders('g.mjs', source)
    } catch (err) {
      // Node cannot import it (a syntax error): the core must have declined
      assert.equal(literal, null, `the core read a module Node rejects (${err.message}): ${JSON.stringify(source)}`)
      declined++
      continue
    }
    if (literal === null) {
      declined++
      continue
    }
    read++
    assert.deepEqual(literal, imported, JSON.stringify(source))
  }
  // both sides of the reader are exercised, not only its refusals
  assert.ok(read >= 500, `read ${read} generated modules`)
  assert.ok(declined >= 500, `declined ${declined} generated modules`)
})
