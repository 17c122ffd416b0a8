// `create`: template, ledger sealing, name validation, versions that never collide.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { ROOT, godwit, tmpDir, cleanEnv } from './helpers.mjs'

const PATTERN = /^\d{13}_[a-z0-9_]+\.mjs$/

test('create_writes_template_seals_it_and_prints_the_path', async (t) => {
  const cwd = tmpDir(t)
  const r = await godwit(['create', 'add_widgets'], { cwd })
  assert.equal(r.code, 0, r.stderr)
  const printed = r.stdout.trim()
  assert.match(printed, /^db\/migrations\/\d{13}_add_widgets\.mjs$/)
  const file = path.basename(printed)
  const version = Number(file.slice(0, 13))
  assert.ok(Math.abs(version - Date.now()) < 60_000, 'version is epoch milliseconds')
  const text = readFileSync(path.join(cwd, printed), 'utf8')
  assert.match(text, /export const up = `/)
  assert.match(text, /\/\/ export const down/)
  assert.match(text, /\/\/ export const config/)
  assert.match(text, /@type \{import\('godwit'\)\.MigrationSql\}/)
  const ledger = JSON.parse(readFileSync(path.join(cwd, 'db/migrations/checksums.json'), 'utf8'))
  assert.deepEqual(Object.keys(ledger.migrations), [file])
  // the sealed entry matches the file: a frozen check has no ledger finding, only the empty up
  const c = await godwit(['check', '--frozen', '--base', 'none', '--json'], { cwd })
  assert.deepEqual(c.json.violations.map((v) => v.rule), ['sql-empty'])
})

test('invalid_names_exit_2_and_suggest_snake_case', async (t) => {
  const cwd = tmpDir(t)
  for (const [bad, suggestion] of [['AddUsers', 'add_users'], ['add-users', 'add_users'], ['add users', 'add_users']]) {
    const r = await godwit(['create', bad], { cwd })
    assert.equal(r.code, 2, bad)
    assert.match(r.stderr, /INVALID_NAME/)
    assert.ok(r.stderr.includes(`try \`${suggestion}\``), r.stderr)
  }
  const missing = await godwit(['create'], { cwd })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /missing <name>/)
  assert.deepEqual(readdirSync(cwd), [], 'nothing written for a bad name')
})

test('versions_strictly_increase_even_within_one_millisecond', async (t) => {
  const cwd = tmpDir(t)
  const dir = path.join(cwd, 'm')
  // eight concurrent creates: all distinct files, all in the ledger
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => godwit(['create', `m${i}`, '--dir', dir])))
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const files = readdirSync(dir).filter((f) => PATTERN.test(f))
  assert.equal(files.length, 8)
  assert.equal(new Set(files.map((f) => f.slice(0, 13))).size, 8, 'versions are unique')
  const ledger = JSON.parse(readFileSync(path.join(dir, 'checksums.json'), 'utf8'))
  // creates hold a lock on the folder: none loses another's ledger entry
  assert.deepEqual(Object.keys(ledger.migrations).sort(), files.sort())
  const check = await godwit(['check', '--dir', dir, '--frozen', '--base', 'none', '--json'], { cwd })
  // the template's `up` is a placeholder (sql-empty); the files and the ledger must agree
  assert.deepEqual(check.json.violations.filter((v) => v.rule !== 'sql-empty'), [])
  const seq = []
  for (let i = 0; i < 3; i++) seq.push(await godwit(['create', `s${i}`, '--dir', dir]))
  const versions = seq.map((r) => Number(path.basename(r.stdout.trim()).slice(0, 13)))
  assert.ok(versions[0] < versions[1] && versions[1] < versions[2])
  const after = JSON.parse(readFileSync(path.join(dir, 'checksums.json'), 'utf8'))
  for (const r of seq) assert.ok(path.basename(r.stdout.trim()) in after.migrations)
  assert.equal(Object.keys(after.migrations).length, Object.keys(ledger.migrations).length + 3)
})

test('version_is_past_a_future_dated_migration_and_nothing_is_overwritten', async (t) => {
  const dir = path.join(tmpDir(t), 'm')
  mkdirSync(dir)
  writeFileSync(path.join(dir, '9000000000000_future.mjs'), "export const up = 'SELECT 1'\n")
  const r = await godwit(['create', 'next', '--dir', dir, '--json'])
  assert.equal(r.code, 0)
  assert.equal(r.json.version, '9000000000001')
  assert.equal(readFileSync(path.join(dir, '9000000000000_future.mjs'), 'utf8'), "export const up = 'SELECT 1'\n")
})

test('pnpm_script_passes_the_name_after_double_dash', (t) => {
  const dir = path.join(tmpDir(t), 'm')
  const r = spawnSync('pnpm', ['run', '--silent', 'db:migrate:create', '--', 'add_widgets', '--dir', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: cleanEnv(),
  })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout.trim(), /\d{13}_add_widgets\.mjs$/)
})
