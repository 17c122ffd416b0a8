// The published types (index.d.ts) compile against real use and still reject misuse.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, godwit, tmpDir } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { project, V } from './project.mjs'

after(stopServer)

const tsc = () => createRequire(import.meta.url).resolve('typescript/bin/tsc')

test('index_d_ts_type_checks_with_tsc_no_emit', () => {
  const r = spawnSync(process.execPath, [tsc(), '-p', path.join(ROOT, '__tests__', 'types', 'tsconfig.json')], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

// The types describe the documents the code really produces: real `check`, `up` (applied and
// failed), `status`, `verify` and `down` documents are written as typed object literals and
// compiled, so an undeclared key (excess property), a missing one or a wrong type fails here.
test('real_documents_type_check_against_index_d_ts', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'DROP TABLE a'\n",
    [`${V(2)}_idx.mjs`]: "export const up = 'CREATE INDEX CONCURRENTLY a_id ON a (id)'\nexport const config = { transaction: false, lockTimeout: '5s' }\n",
    [`${V(3)}_bad.mjs`]: "export const up = 'SELECT 1/0'\n",
  })
  const env = { DATABASE_URL: url }
  const docs = {}
  docs.check = (await godwit(['check', '--json', '--frozen', '--base', 'none'], { cwd, env })).json
  docs.upFailed = (await godwit(['up', '--json', '--sha', 'types'], { cwd, env })).json
  docs.statusFailed = (await godwit(['status', '--json'], { cwd, env })).json
  docs.down = (await godwit(['down', '--json', '--sha', 'types-down', '--count', '0'], { cwd, env })).json
  docs.verify = (await godwit(['verify', '--json', '--sha', 'types-verify'], { cwd: await project(t, { [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'DROP TABLE a'\n" }), env })).json
  const clean = await project(t, { [`${V(1)}_c.mjs`]: "export const up = 'CREATE TABLE c (id int)'\n" })
  const url2 = await freshDatabase(t)
  docs.upApplied = (await godwit(['up', '--json', '--sha', 'types'], { cwd: clean, env: { DATABASE_URL: url2 } })).json
  docs.statusClean = (await godwit(['status', '--json'], { cwd: clean, env: { DATABASE_URL: url2 } })).json
  const broken = await project(t, { [`${V(1)}_x.mjs`]: "export const up = 'SELECT 1'\n" })
  writeFileSync(path.join(broken, 'db', 'migrations', `${V(2)}_drop.mjs`), "export const up = 'DROP TABLE users'\n")
  writeFileSync(path.join(broken, 'db', 'migrations', 'notes.txt'), 'x')
  docs.checkViolations = (await godwit(['check', '--json', '--frozen', '--base', 'none'], { cwd: broken })).json
  for (const [k, v] of Object.entries(docs)) assert.ok(v, `${k}: no JSON document`)
  assert.equal(docs.upFailed.outcome, 'failed')
  assert.equal(docs.upApplied.outcome, 'applied')
  assert.equal(docs.verify.outcome, 'verified', JSON.stringify(docs.verify.error))
  assert.ok(docs.checkViolations.violations.length > 0)

  const types = { check: 'CheckReport', checkViolations: 'CheckReport', upFailed: 'UpReport', down: 'UpReport', statusFailed: 'StatusReport', verify: 'VerifyReport', upApplied: 'UpReport', statusClean: 'StatusReport' }
  const dir = tmpDir(t, 'godwit-types-')
  const lines = [`import type { CheckReport, UpReport, StatusReport, VerifyReport } from ${JSON.stringify(path.join(ROOT, 'index.js'))}`]
  for (const [k, v] of Object.entries(docs)) lines.push(`export const ${k}: ${types[k]} = ${JSON.stringify(v, null, 2)}`)
  writeFileSync(path.join(dir, 'documents.ts'), lines.join('\n\n') + '\n')
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2022', 'dom'], types: [] },
    files: ['documents.ts'],
  }))
  const r = spawnSync(process.execPath, [tsc(), '-p', dir], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

// What `create` writes gives editors the module types: its JSDoc annotations resolve to the
// published `Migration` parts, and a wrong config is caught by the type checker.
test('the_create_template_is_typed_by_jsdoc_and_catches_a_wrong_config', async (t) => {
  const cwd = tmpDir(t, 'godwit-template-')
  const made = await godwit(['create', '--json', '--', 'add_widgets'], { cwd })
  assert.equal(made.code, 0, made.stderr)
  const file = path.join(cwd, 'db', 'migrations', made.json.file)
  // the template's commented-out parts, switched on, plus one misuse that must be reported
  const text = readFileSync(file, 'utf8').replace(/^\/\/ (\/\*\*|export|  |\}\))/gm, '$1').replace(/^\/\/ \}/gm, '}')
  writeFileSync(file, text + "\n/** @type {import('godwit').MigrationConfig} */\n// @ts-expect-error transaction is a boolean\nexport const wrong = { transaction: 'no' }\n")
  writeFileSync(path.join(cwd, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, allowJs: true, checkJs: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2022', 'dom'], types: [], paths: { godwit: [path.join(ROOT, 'index.d.ts')] } },
    include: ['db/migrations/*.mjs'],
  }))
  const r = spawnSync(process.execPath, [tsc(), '-p', cwd], { encoding: 'utf8' })
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n--- ${file}\n${readFileSync(file, 'utf8')}`)
  assert.match(readFileSync(file, 'utf8'), /^export const down = /m, 'the down part was switched on')
  assert.match(readFileSync(file, 'utf8'), /^export const config = \{/m, 'the config part was switched on')
})
