// `check` on fixture folders: one good set, one folder per way of breaking the contract.
import { test } from 'node:test'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { FIXTURES, godwit, fixtureCopy, rules } from './helpers.mjs'

test('good_set_passes_frozen_and_local', async (t) => {
  const dir = fixtureCopy(t, 'good')
  const before = readFileSync(path.join(dir, 'checksums.json'), 'utf8')
  for (const args of [['--frozen', '--base', 'none'], []]) {
    const r = await godwit(['check', '--dir', dir, '--json', ...args])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.json.ok, true)
    assert.deepEqual(r.json.violations, [])
    assert.deepEqual(r.json.sealed, [])
    assert.equal(r.json.ledgerWritten, false)
    assert.deepEqual(
      r.json.migrations.map((m) => [m.file, m.transaction ?? m.config.transaction, m.upStatements]),
      [
        ['1700000000000_create_users.mjs', true, 1],
        ['1700000000100_create_orders.mjs', true, 2],
        ['1700000000200_index_orders_user.mjs', false, 1],
        ['1700000000300_validate_orders_user_fk.mjs', true, 1],
      ],
    )
  }
  assert.equal(readFileSync(path.join(dir, 'checksums.json'), 'utf8'), before)
})

const require = createRequire(import.meta.url)
const broken = readdirSync(path.join(FIXTURES, 'broken'))

// Every rule the core can report has a fixture that raises it (the rule ids come from the core,
// so a new rule without a fixture fails here), or is raised by a test that needs more than a
// folder: a git history, or a migration corpus with its expected rule in each file's header.
test('every_rule_the_core_knows_is_raised_by_a_fixture_or_a_named_test', () => {
  const { contract, policy } = require('../lib/native.js').ruleIds()
  const covered = new Set(broken.flatMap((n) => JSON.parse(readFileSync(path.join(FIXTURES, 'expect', `${n}.json`), 'utf8')).violations.map(([, r]) => r)))
  const corpus = path.join(FIXTURES, 'policy', 'dangerous')
  for (const f of readdirSync(corpus)) covered.add(readFileSync(path.join(corpus, f), 'utf8').match(/^\/\/ expect: (\S+)/)[1])
  const elsewhere = {
    'merged-edited': 'merge-rules.test.mjs',
    'merged-deleted': 'merge-rules.test.mjs',
    'merged-ledger-entry': 'merge-rules.test.mjs',
    'version-not-newer': 'merge-rules.test.mjs',
    'unused-ignore': 'policy.test.mjs',
  }
  for (const [rule, file] of Object.entries(elsewhere)) {
    assert.ok(readFileSync(path.join(FIXTURES, '..', file), 'utf8').includes(`'${rule}'`), `${file} does not test ${rule}`)
  }
  const missing = [...contract, ...policy].filter((r) => !covered.has(r) && !elsewhere[r])
  assert.deepEqual(missing, [], 'rules with no fixture')
})

for (const name of broken) {
  test(`broken_fixture_${name}_fails_naming_file_and_rule`, async (t) => {
    const expect = JSON.parse(readFileSync(path.join(FIXTURES, 'expect', `${name}.json`), 'utf8'))
    const dir = fixtureCopy(t, path.join('broken', name))
    const r = await godwit(['check', '--dir', dir, '--json', ...expect.args])
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.json.ok, false)
    assert.deepEqual(rules(r.json), expect.violations)
    for (const v of r.json.violations) {
      assert.ok(v.message.length > 0 && v.hint.length > 0, JSON.stringify(v))
    }
    // the readable form: one line per violation with file, rule and fix
    const text = await godwit(['check', '--dir', dir, ...expect.args])
    assert.equal(text.code, 1)
    // warnings (style rules) are printed too, marked, and do not count here
    const lines = text.stdout.trim().split('\n').filter((l) => !l.includes('(warning)'))
    assert.equal(lines.length, expect.violations.length, text.stdout)
    for (const [file, rule] of expect.violations) {
      assert.ok(
        lines.some((l) => l.includes(file) && l.includes(`: ${rule}: `) && l.includes('(fix: ')),
        `no line for ${file} ${rule} in:\n${text.stdout}`,
      )
    }
  })
}

test('symlinked_migration_is_refused', async (t) => {
  const dir = fixtureCopy(t, 'good')
  const outside = path.join(dir, '..', 'outside.mjs')
  writeFileSync(outside, "export const up = 'SELECT 1'\n")
  symlinkSync(outside, path.join(dir, '1700000000400_linked.mjs'))
  const r = await godwit(['check', '--dir', dir, '--json', '--frozen', '--base', 'none'])
  assert.equal(r.code, 1)
  assert.deepEqual(rules(r.json), [['1700000000400_linked.mjs', 'not-a-regular-file']])
})

test('corrupt_ledger_is_never_rewritten', async (t) => {
  const dir = fixtureCopy(t, 'broken/ledger-corrupt')
  const before = readFileSync(path.join(dir, 'checksums.json'), 'utf8')
  const r = await godwit(['check', '--dir', dir, '--json'])
  assert.equal(r.code, 1)
  assert.equal(r.json.ledgerWritten, false)
  assert.equal(readFileSync(path.join(dir, 'checksums.json'), 'utf8'), before)
  const c = await godwit(['create', 'more', '--dir', dir])
  assert.equal(c.code, 2)
  assert.match(c.stderr, /LEDGER_INVALID/)
  assert.deepEqual(readdirSync(dir).sort(), ['1700000000000_ok.mjs', 'checksums.json'])
})

test('crlf_and_bom_copies_are_not_edits', async (t) => {
  const dir = fixtureCopy(t, 'good')
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.mjs'))) {
    const p = path.join(dir, f)
    writeFileSync(p, '\uFEFF' + readFileSync(p, 'utf8').replace(/\n/g, '\r\n'))
  }
  const r = await godwit(['check', '--dir', dir, '--json', '--frozen', '--base', 'none'])
  assert.equal(r.code, 0, r.stdout)
})

test('any_other_byte_change_is_an_edit_outside_git_frozen_and_resealed_locally', async (t) => {
  const dir = fixtureCopy(t, 'good')
  const p = path.join(dir, '1700000000000_create_users.mjs')
  writeFileSync(p, readFileSync(p, 'utf8') + ' ')
  // frozen without git needs `--base none` (else BASE_UNKNOWN), and then the ledger is strict
  const r = await godwit(['check', '--dir', dir, '--json', '--frozen', '--base', 'none'])
  assert.equal(r.code, 1, r.stdout)
  assert.deepEqual(rules(r.json), [['1700000000000_create_users.mjs', 'ledger-mismatch']])
  assert.equal((await godwit(['check', '--dir', dir, '--json', '--frozen'])).code, 2)
  // locally, the author loop (create, edit, check) re-seals: nothing tells merged from new here
  const local = await godwit(['check', '--dir', dir, '--json'])
  assert.equal(local.code, 0, local.stdout)
  assert.deepEqual(local.json.sealed, ['1700000000000_create_users.mjs'])
  assert.equal((await godwit(['check', '--dir', dir, '--json', '--frozen', '--base', 'none'])).code, 0)
})

test('missing_folder_is_a_usage_error', async () => {
  const r = await godwit(['check', '--dir', '/nonexistent/godwit/migrations', '--json'])
  assert.equal(r.code, 2)
  assert.equal(r.json.error.code, 'DIR_NOT_FOUND')
})
