// Immutable after merge, in real git repositories: the base ref, sealing, and frozen mode.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, rmSync, renameSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { godwit, gitRepo, git, rules } from './helpers.mjs'

const M = 'db/migrations'

/** A repo whose main has one merged migration, and a feature branch checked out. */
async function repoWithMergedMigration(t) {
  const cwd = gitRepo(t)
  const c = await godwit(['create', 'create_users'], { cwd })
  assert.equal(c.code, 0, c.stderr)
  const file = path.basename(c.stdout.trim())
  writeFileSync(path.join(cwd, M, file), "export const up = 'CREATE TABLE users (id bigint PRIMARY KEY)'\n")
  const sealed = await godwit(['check'], { cwd })
  assert.equal(sealed.code, 0, sealed.stdout + sealed.stderr)
  git(cwd, 'add', '-A')
  git(cwd, 'commit', '-qm', 'merged')
  git(cwd, 'checkout', '-qb', 'feature')
  return { cwd, merged: file }
}

test('create_implement_check_seals_then_ci_passes', async (t) => {
  const { cwd } = await repoWithMergedMigration(t)
  const c = await godwit(['create', 'add_widgets'], { cwd })
  const file = path.basename(c.stdout.trim())
  writeFileSync(path.join(cwd, M, file), "export const up = 'CREATE TABLE widgets (id bigint PRIMARY KEY)'\n")
  // the edit made the ledger stale: CI refuses, locally check re-seals and says so
  const ci = await godwit(['check', '--json'], { cwd, env: { CI: 'true' } })
  assert.equal(ci.code, 1)
  assert.deepEqual(rules(ci.json), [[file, 'ledger-mismatch']])
  assert.match(ci.json.violations[0].hint, /pnpm db:migrate:check/)
  const local = await godwit(['check', '--json'], { cwd })
  assert.equal(local.code, 0, local.stdout)
  assert.deepEqual(local.json.sealed, [file])
  assert.equal(local.json.ledgerWritten, true)
  const text = await godwit(['check'], { cwd })
  assert.equal(text.code, 0)
  const after = await godwit(['check', '--json'], { cwd, env: { CI: 'true' } })
  assert.equal(after.code, 0, after.stdout)
  assert.equal(after.json.mode, 'frozen')
  assert.equal(after.json.ledgerWritten, false)
  for (const off of ['false', '0', '']) {
    const r = await godwit(['check', '--json'], { cwd, env: { CI: off } })
    assert.equal(r.json.mode, 'local', `CI=${off}`)
  }
})

test('edited_merged_migration_fails_check_in_both_modes', async (t) => {
  const { cwd, merged } = await repoWithMergedMigration(t)
  const p = path.join(cwd, M, merged)
  writeFileSync(p, readFileSync(p, 'utf8').replace('users', 'people'))
  for (const env of [{}, { CI: 'true' }]) {
    const r = await godwit(['check', '--json'], { cwd, env })
    assert.equal(r.code, 1)
    assert.deepEqual(rules(r.json), [[merged, 'merged-edited']])
  }
  // re-sealing does not launder the edit: the base content is the reference
  const ledger = JSON.parse(readFileSync(path.join(cwd, M, 'checksums.json'), 'utf8'))
  const text = await godwit(['check'], { cwd })
  assert.match(text.stdout, new RegExp(`${merged}: merged-edited: `))
  assert.deepEqual(JSON.parse(readFileSync(path.join(cwd, M, 'checksums.json'), 'utf8')), ledger)
})

test('merged_files_are_recognised_by_their_blob_ids_in_sha1_and_sha256_repositories', async (t) => {
  for (const format of ['sha1', 'sha256']) {
    const cwd = gitRepo(t)
    rmSync(path.join(cwd, '.git'), { recursive: true })
    git(cwd, 'init', '-q', '-b', 'main', `--object-format=${format}`)
    mkdirSync(path.join(cwd, M), { recursive: true })
    for (const [i, table] of ['users', 'orders', 'items'].entries()) {
      writeFileSync(path.join(cwd, M, `170000000000${i + 1}_${table}.mjs`), `export const up = 'CREATE TABLE ${table} (id bigint PRIMARY KEY)'\n`)
    }
    assert.equal((await godwit(['check'], { cwd })).code, 0)
    git(cwd, 'add', '-A')
    git(cwd, 'commit', '-qm', 'merged')
    const ci = { CI: 'true', MIGRATION_BASE_REF: 'main' }
    const clean = await godwit(['check', '--json'], { cwd, env: ci })
    assert.equal(clean.code, 0, `${format}: ${clean.stdout}`)
    assert.deepEqual(clean.json.changed, [], format)
    assert.equal(clean.json.migrations.filter((m) => m.skipped).length, 3, format)
    // one byte changed: not the base's blob, so its bytes are read from git and compared
    const edited = path.join(cwd, M, '1700000000002_orders.mjs')
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('bigint', 'integer'))
    const r = await godwit(['check', '--json'], { cwd, env: ci })
    assert.equal(r.code, 1)
    assert.deepEqual(rules(r.json).filter(([, rule]) => rule === 'merged-edited'), [['1700000000002_orders.mjs', 'merged-edited']], format)
    assert.deepEqual(r.json.changed, ['1700000000002_orders.mjs'], format)
  }
})

test('deleted_or_renamed_merged_migration_fails', async (t) => {
  const { cwd, merged } = await repoWithMergedMigration(t)
  const renamed = merged.replace('create_users', 'make_users')
  renameSync(path.join(cwd, M, merged), path.join(cwd, M, renamed))
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  assert.ok(rules(r.json).some(([f, rule]) => f === merged && rule === 'merged-deleted'))
  assert.match(r.json.violations.find((v) => v.rule === 'merged-deleted').message, /renamed to/)
  rmSync(path.join(cwd, M, renamed))
  const d = await godwit(['check', '--json'], { cwd, env: { CI: '1' } })
  assert.ok(rules(d.json).some(([f, rule]) => f === merged && rule === 'merged-deleted'))
})

test('merged_ledger_entry_cannot_change', async (t) => {
  const { cwd, merged } = await repoWithMergedMigration(t)
  const lp = path.join(cwd, M, 'checksums.json')
  const ledger = JSON.parse(readFileSync(lp, 'utf8'))
  ledger.migrations[merged] = 'f'.repeat(64)
  writeFileSync(lp, JSON.stringify(ledger, null, 2).replace('"checksum"', '"checksum"') + '\n')
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  assert.ok(rules(r.json).some(([f, rule]) => f === merged && rule === 'merged-ledger-entry'))
})

test('new_migration_older_than_the_base_is_refused', async (t) => {
  const { cwd } = await repoWithMergedMigration(t)
  const old = '1000000000000_backdated.mjs'
  writeFileSync(path.join(cwd, M, old), "export const up = 'SELECT 1'\n")
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  assert.deepEqual(rules(r.json), [[old, 'version-not-newer']])
})

test('base_ref_precedence_flag_env_github', async (t) => {
  const { cwd, merged } = await repoWithMergedMigration(t)
  // on feature, add and commit a migration: relative to main it is new, relative to HEAD merged
  const c = await godwit(['create', 'feature_one'], { cwd })
  const file = path.basename(c.stdout.trim())
  writeFileSync(path.join(cwd, M, file), "export const up = 'SELECT 1'\n")
  await godwit(['check'], { cwd })
  git(cwd, 'add', '-A')
  git(cwd, 'commit', '-qm', 'feature')
  writeFileSync(path.join(cwd, M, file), "export const up = 'SELECT 2'\n")
  const vsMain = await godwit(['check', '--json', '--base', 'main'], { cwd })
  assert.equal(vsMain.code, 0, vsMain.stdout)
  assert.deepEqual(vsMain.json.sealed, [file])
  const vsHead = await godwit(['check', '--json'], { cwd, env: { MIGRATION_BASE_REF: 'HEAD' } })
  assert.deepEqual(rules(vsHead.json), [[file, 'merged-edited']])
  assert.equal(vsHead.json.base.spec.source, 'env')
  // the flag wins over the env
  const flagWins = await godwit(['check', '--json', '--base', 'main'], { cwd, env: { MIGRATION_BASE_REF: 'HEAD' } })
  assert.equal(flagWins.code, 0)
  // GitHub pull requests: origin/$GITHUB_BASE_REF
  git(cwd, 'update-ref', 'refs/remotes/origin/main', 'main')
  const gh = await godwit(['check', '--json'], { cwd, env: { GITHUB_BASE_REF: 'main' } })
  assert.equal(gh.json.base.spec.ref, 'origin/main')
  assert.equal(gh.code, 0)
  // default: merge-base with origin/HEAD|origin/main...; here origin/main exists
  const def = await godwit(['check', '--json'], { cwd })
  assert.match(def.json.base.described, /merge-base\(HEAD, origin\/main\)/)
  assert.equal(merged.length > 0, true)
})

test('unknown_base_ref_is_a_usage_error', async (t) => {
  const { cwd } = await repoWithMergedMigration(t)
  const r = await godwit(['check', '--json', '--base', 'origin/nope'], { cwd })
  assert.equal(r.code, 2)
  assert.equal(r.json.error.code, 'BASE_REF_NOT_FOUND')
  assert.match(r.json.error.message, /origin\/nope/)
})

test('crlf_checkout_of_a_merged_migration_is_not_an_edit', async (t) => {
  const { cwd, merged } = await repoWithMergedMigration(t)
  const p = path.join(cwd, M, merged)
  writeFileSync(p, readFileSync(p, 'utf8').replace(/\n/g, '\r\n'))
  const r = await godwit(['check', '--json'], { cwd, env: { CI: 'true' } })
  assert.equal(r.code, 0, r.stdout)
})

test('repository_without_commits_has_nothing_merged_so_check_seals', async (t) => {
  const cwd = gitRepo(t)
  mkdirSync(path.join(cwd, M), { recursive: true })
  const c = await godwit(['create', 'first'], { cwd })
  const file = path.basename(c.stdout.trim())
  writeFileSync(path.join(cwd, M, file), "export const up = 'SELECT 1'\n")
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.json.base.none, 'noCommits')
  assert.equal(r.code, 0, r.stdout)
  assert.deepEqual(r.json.sealed, [file])
})
