// The literal reader must never disagree with Node: for every module in every fixture folder and
// the project's own migrations, it either declines (null: the module is imported as usual) or
// renders exactly what importing the module renders.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import { FIXTURES, ROOT } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { readLiteralModule } = require('../lib/literal-module.js')
const { renderExports } = require('../lib/render-exports.js')

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
    const literal = readLiteralModule(readFileSync(file, 'utf8'))
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
    const name = path.basename(file)
    assert.deepEqual(await renderExports(name, literal), await renderExports(name, imported), file)
  }
  assert.ok(read >= 50, `read ${read} literal modules`)
  assert.ok(declined >= 5, `declined ${declined} non-literal modules`)
})

test('the_literal_reader_declines_everything_that_is_not_a_plain_literal', () => {
  const declined = [
    "export const up = `CREATE TABLE t_${Date.now()} ()`",
    'export const up = () => "SELECT 1"',
    "export const up = process.env.X ? 'a' : 'b'",
    "import x from './x.mjs'\nexport const up = 'SELECT 1'",
    "export let up = 'SELECT 1'",
    "export default 'SELECT 1'",
    "const up = 'SELECT 1'\nexport { up }",
    "export const up = 'SELECT 1'\nconsole.log('side effect')",
    "export const up = 'SELECT 1'\nexport const config = { lockTimeout: -1 }",
    "export const up = 'SELECT 1'\nexport const config = { [k]: true }",
    "export const up = 'SELECT 1'\nexport const config = { __proto__: { transaction: false } }",
    "export const up = 'SELECT 1'\nexport const donw = 'DROP TABLE t'",
    "export const up = ['SELECT 1', ...more]",
    "export const up = 'SELECT 1'\nexport const up = 'SELECT 2'",
    "export const up = 'unterminated",
    "\ufeffexport const up = 'SELECT 1'",
    "#!/usr/bin/env node\nexport const up = 'SELECT 1'",
    "export const up = /SELECT/",
    "export const up = 1n",
    "export const up = String.raw`SELECT 1`",
  ]
  for (const src of declined) assert.equal(readLiteralModule(src), null, src)
  assert.deepEqual(
    readLiteralModule("// c\nexport const up = `SELECT\\t1`, down = ['a', \"b\"]\n/* c */\nexport const config = { transaction: false, 'lockTimeout': '5s', ignore: { x: 'y' } };"),
    { up: 'SELECT\t1', down: ['a', 'b'], config: { transaction: false, lockTimeout: '5s', ignore: { x: 'y' } } },
  )
})
