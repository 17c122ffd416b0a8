// SQL policy through the real CLI: a corpus of dangerous migrations (each must raise the rule its
// header names, as an error) and of safe ones (must raise nothing at all), the project
// configuration, per-migration opt-outs with reasons, and GitHub Actions annotations.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { FIXTURES, godwit, tmpDir, git, rules } from './helpers.mjs'

/** A project whose db/migrations is a copy of a fixture folder (or these files). */
function projectFrom(t, { fixture, files = {}, packageJson } = {}) {
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  const dir = path.join(cwd, 'db', 'migrations')
  if (fixture) cpSync(path.join(FIXTURES, fixture), dir, { recursive: true })
  else mkdirSync(dir, { recursive: true })
  for (const [f, src] of Object.entries(files)) writeFileSync(path.join(dir, f), src)
  if (packageJson) writeFileSync(path.join(cwd, 'package.json'), JSON.stringify(packageJson))
  return { cwd, dir }
}

const expectations = (dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => [f, readFileSync(path.join(dir, f), 'utf8').match(/^\/\/ expect: (\S+)/)[1]])

test('every_dangerous_migration_in_the_corpus_raises_its_rule_as_an_error', async (t) => {
  const { cwd, dir } = projectFrom(t, { fixture: 'policy/dangerous' })
  const cases = expectations(dir)
  assert.ok(cases.length >= 25, `corpus has ${cases.length} dangerous cases`)
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  for (const [file, rule] of cases) {
    const found = r.json.violations.filter((v) => v.file === file)
    assert.ok(
      found.some((v) => v.rule === rule && v.severity === 'error'),
      `${file}: expected ${rule}, got ${JSON.stringify(found.map((v) => v.rule))}`,
    )
    // the SQL is a template literal in the file: the finding points at its line there
    const hit = found.find((v) => v.rule === rule)
    assert.ok(hit.line >= 3, `${file}: line ${hit.line}`)
    assert.ok(hit.hint.length > 10, `${file}: a fix is named`)
  }
})

test('every_safe_migration_in_the_corpus_raises_nothing', async (t) => {
  const { cwd, dir } = projectFrom(t, { fixture: 'policy/safe' })
  assert.ok(expectations(dir).length >= 10)
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 0, JSON.stringify(r.json.violations, null, 2))
  assert.deepEqual(r.json.violations, [])
})

test('the_projects_own_example_migrations_pass_every_rule', async () => {
  const r = await godwit(['check', '--json', '--frozen'])
  assert.equal(r.code, 0, r.stdout)
  assert.deepEqual(r.json.violations, [])
})

const V = '1700000000001'

test('a_written_opt_out_silences_its_rule_and_is_listed_in_the_report', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      [`${V}_idx.mjs`]: "export const up = 'CREATE INDEX t_a ON t (a)'\nexport const config = { ignore: { 'require-concurrent-index-creation': 't holds 12 rows in every environment' } }\n",
    },
  })
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 0, r.stdout)
  assert.deepEqual(r.json.waivers, [{ file: `${V}_idx.mjs`, rule: 'require-concurrent-index-creation', reason: 't holds 12 rows in every environment', silenced: 1 }])
  const human = await godwit(['check'], { cwd })
  assert.match(human.stdout, /ignored require-concurrent-index-creation \(1 finding\): t holds 12 rows/)
})

test('an_opt_out_that_silences_nothing_is_a_warning', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      [`${V}_t.mjs`]: "export const up = 'CREATE TABLE t (id bigint)'\nexport const config = { ignore: { 'require-concurrent-index-creation': 'no index here any more' } }\n",
    },
  })
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 0, r.stdout)
  assert.deepEqual(r.json.violations.map((v) => [v.rule, v.severity]), [['unused-ignore', 'warning']])
})

test('an_opt_out_without_a_reason_or_for_an_unknown_rule_is_refused', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      [`${V}_a.mjs`]: "export const up = 'CREATE INDEX t_a ON t (a)'\nexport const config = { ignore: { 'require-concurrent-index-creation': ' ' } }\n",
      '1700000000002_b.mjs': "export const up = 'SELECT 1'\nexport const config = { ignore: { 'no-such-rule': 'because' } }\n",
    },
  })
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  const msgs = r.json.violations.filter((v) => v.rule === 'module-config').map((v) => v.message)
  assert.ok(msgs.some((m) => /has no reason/.test(m)), msgs.join('\n'))
  assert.ok(msgs.some((m) => /no-such-rule/.test(m)), msgs.join('\n'))
})

test('project_configuration_sets_levels_version_and_the_destructive_policy', async (t) => {
  const files = {
    [`${V}_idx.mjs`]: "export const up = 'CREATE INDEX t_a ON t (a)'\n",
    '1700000000002_drop.mjs': "export const up = 'DROP TABLE old'\nexport const config = { destructive: true }\n",
  }
  const relaxed = projectFrom(t, { files, packageJson: { name: 'app', godwit: { rules: { 'require-concurrent-index-creation': 'warning' } } } })
  const r1 = await godwit(['check', '--json'], { cwd: relaxed.cwd })
  assert.equal(r1.code, 0, r1.stdout)
  assert.deepEqual(r1.json.violations.map((v) => [v.rule, v.severity]), [['require-concurrent-index-creation', 'warning']])
  assert.equal(r1.json.policy.destructive, 'require-declaration')
  const strict = projectFrom(t, { files, packageJson: { godwit: { destructive: 'forbid', postgresVersion: '15' } } })
  const r2 = await godwit(['check', '--json'], { cwd: strict.cwd })
  assert.equal(r2.code, 1)
  assert.ok(r2.json.violations.some((v) => v.rule === 'destructive-undeclared' && /forbids/.test(v.message)))
  assert.equal(r2.json.policy.postgresVersion, '15')
  const typo = projectFrom(t, { files, packageJson: { godwit: { rulez: {} } } })
  const r3 = await godwit(['check', '--json'], { cwd: typo.cwd })
  assert.equal(r3.code, 2)
  assert.equal(r3.json.error.code, 'CONFIG')
  assert.match(r3.json.error.message, /package\.json#godwit: `rulez` is not a setting/)
})

test('godwit_config_mjs_is_the_other_source_and_both_at_once_is_an_error', async (t) => {
  const { cwd } = projectFrom(t, { files: { [`${V}_idx.mjs`]: "export const up = 'CREATE INDEX t_a ON t (a)'\n" } })
  writeFileSync(path.join(cwd, 'godwit.config.mjs'), "export default { rules: { 'require-concurrent-index-creation': 'off' } }\n")
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 0, r.stdout)
  assert.deepEqual(r.json.violations, [])
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ godwit: {} }))
  const both = await godwit(['check', '--json'], { cwd })
  assert.equal(both.code, 2)
  assert.match(both.json.error.message, /keep one/)
})

test('under_github_actions_findings_become_annotations_on_file_and_line', async (t) => {
  const { cwd } = projectFrom(t, {
    files: { [`${V}_idx.mjs`]: "// an index\nexport const up = `\nCREATE TABLE a (id bigint);\nCREATE INDEX t_a ON t (a);\n`\n" },
  })
  const r = await godwit(['check'], { cwd, env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: cwd } })
  assert.equal(r.code, 1)
  assert.match(r.stdout, new RegExp(`^::error file=db/migrations/${V}_idx.mjs,line=4,title=godwit require-concurrent-index-creation::.+\\(fix: .+\\)$`, 'm'))
  const plain = await godwit(['check'], { cwd })
  assert.doesNotMatch(plain.stdout, /^::error/m)
})

test('type_changes_postgres_makes_without_a_rewrite_are_not_reported_as_rewrites', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      '1700000000001_t.mjs': "export const up = 'CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label varchar(50), amount numeric(10,2), at timestamp)'\n",
      '1700000000002_widen.mjs': "export const up = 'ALTER TABLE t ALTER COLUMN label TYPE varchar(200)'\n",
      '1700000000003_text.mjs': "export const up = 'ALTER TABLE t ALTER COLUMN label TYPE text'\n",
      '1700000000004_precision.mjs': "export const up = 'ALTER TABLE t ALTER COLUMN amount TYPE numeric(14,2)'\n",
      '1700000000005_tz.mjs': "export const up = `SET LOCAL TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN at TYPE timestamptz`\n",
      '1700000000006_narrow.mjs': "export const up = 'ALTER TABLE t ALTER COLUMN label TYPE varchar(10)'\n",
      '1700000000007_scale.mjs': "export const up = 'ALTER TABLE t ALTER COLUMN amount TYPE numeric(14,4)'\n",
    },
  })
  const r = await godwit(['check', '--json'], { cwd })
  const claims = r.json.violations.filter((v) => v.rule === 'changing-column-type').map((v) => v.file)
  assert.deepEqual(claims, ['1700000000006_narrow.mjs', '1700000000007_scale.mjs'])
})

test('merged_unchanged_migrations_are_not_judged_again_but_still_give_their_columns_and_all_judges_them', async (t) => {
  const { cwd, dir } = projectFrom(t, {
    files: {
      '1700000000001_t.mjs': "export const up = 'CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label varchar(50))'\n",
      // merged before the policy said so: an index built without CONCURRENTLY
      '1700000000002_idx.mjs': "export const up = 'CREATE INDEX t_label ON t (label)'\n",
    },
  })
  assert.equal((await godwit(['check'], { cwd, env: { CI: '' } })).code, 1, 'the index is an error locally, before the merge')
  // merged while the project's policy had the rule off; the policy has it on again since
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ godwit: { rules: { 'require-concurrent-index-creation': 'off' } } }))
  assert.equal((await godwit(['check'], { cwd, env: { CI: '' } })).code, 0)
  git(cwd, 'add', '-A')
  git(cwd, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'merged')
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({}))
  writeFileSync(path.join(dir, '1700000000003_widen.mjs'), "export const up = 'ALTER TABLE t ALTER COLUMN label TYPE varchar(200)'\n")
  writeFileSync(path.join(dir, '1700000000004_narrow.mjs'), "export const up = 'ALTER TABLE t ALTER COLUMN label TYPE varchar(10)'\n")
  assert.equal((await godwit(['check'], { cwd, env: { CI: '' } })).code, 1, 'the narrowing is a rewrite')
  const ci = { CI: 'true', MIGRATION_BASE_REF: 'main' }
  const r = await godwit(['check', '--json'], { cwd, env: ci })
  // the merged index is history: not judged again; the new files are
  assert.deepEqual(r.json.violations.map((v) => v.file).filter((f) => f <= '1700000000002'), [])
  assert.deepEqual(r.json.migrations.filter((m) => m.skipped).map((m) => m.file), ['1700000000001_t.mjs', '1700000000002_idx.mjs'])
  assert.equal(r.json.migrations.find((m) => m.file === '1700000000003_widen.mjs').upStatements, 1)
  // the widening is known to need no rewrite only from the merged CREATE TABLE's varchar(50)
  assert.deepEqual(r.json.violations.filter((v) => v.rule === 'changing-column-type').map((v) => v.file), ['1700000000004_narrow.mjs'])
  const text = await godwit(['check'], { cwd, env: ci })
  assert.match(text.stderr, /2 merged, unchanged migration\(s\) compared with the base by their bytes, not judged again \(--all judges them\)/)
  // --all judges the history too: the merged index is an error again
  const all = await godwit(['check', '--all', '--json'], { cwd, env: ci })
  assert.equal(all.code, 1)
  assert.ok(all.json.violations.some((v) => v.file === '1700000000002_idx.mjs' && v.rule === 'require-concurrent-index-creation'))
  assert.deepEqual(all.json.migrations.filter((m) => m.skipped), [])
  // an edited merged migration is changed, so judged, besides being refused as edited
  writeFileSync(path.join(dir, '1700000000002_idx.mjs'), "export const up = 'CREATE INDEX t_label ON t (label, id)'\n")
  const edited = await godwit(['check', '--json'], { cwd, env: ci })
  assert.ok(edited.json.violations.some((v) => v.file === '1700000000002_idx.mjs' && v.rule === 'merged-edited'))
  assert.ok(edited.json.violations.some((v) => v.file === '1700000000002_idx.mjs' && v.rule === 'require-concurrent-index-creation'))
})

test('a_merged_module_that_imports_a_helper_is_rendered_again_and_a_broken_helper_fails_the_check', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      // reaches outside its bytes: what it renders depends on the helper
      '1700000000001_t.mjs': "import { table } from '../sql.mjs'\nexport const up = table('t')\n",
      // `import(...)` only in a JSDoc comment, as `create` writes them: still its own bytes only
      '1700000000002_idx.mjs': "/** @type {import('godwit').MigrationSql} */\nexport const up = 'CREATE INDEX t_id ON t (id)'\n",
    },
    packageJson: { godwit: { rules: { 'require-concurrent-index-creation': 'off' } } },
  })
  writeFileSync(path.join(cwd, 'db', 'sql.mjs'), "export const table = (n) => `CREATE TABLE ${n} (id bigint PRIMARY KEY)`\n")
  assert.equal((await godwit(['check'], { cwd, env: { CI: '' } })).code, 0)
  git(cwd, 'add', '-A')
  git(cwd, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'merged')
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({}))
  const ci = { CI: 'true', MIGRATION_BASE_REF: 'main' }
  const clean = await godwit(['check', '--json'], { cwd, env: ci })
  assert.equal(clean.code, 0, clean.stdout)
  // the importing module is rendered again (not skipped), the literal one is not
  assert.deepEqual(clean.json.migrations.map((m) => [m.file, Boolean(m.skipped)]), [['1700000000001_t.mjs', false], ['1700000000002_idx.mjs', true]])
  // a pull request that breaks the helper breaks a merged migration: the check says so
  writeFileSync(path.join(cwd, 'db', 'sql.mjs'), 'export const tables = 1\n')
  const broken = await godwit(['check', '--json'], { cwd, env: ci })
  assert.equal(broken.code, 1)
  assert.deepEqual(rules(broken.json), [['1700000000001_t.mjs', 'module-import']])
  // held to the module contract, not to the SQL rules: history's SQL is not this change's to fix
  writeFileSync(path.join(cwd, 'db', 'sql.mjs'), "export const table = (n) => `CREATE TABLE ${n} (id bigint PRIMARY KEY); CREATE INDEX ${n}_i ON ${n} (id)`\n")
  const history = await godwit(['check', '--json'], { cwd, env: ci })
  assert.equal(history.code, 0, history.stdout)
})

test('maintenance_that_rewrites_a_table_is_reported_even_alone', async (t) => {
  const { cwd } = projectFrom(t, {
    files: {
      '1700000000001_vacuum.mjs': "export const up = 'VACUUM FULL users'\nexport const config = { transaction: false }\n",
      '1700000000002_cluster.mjs': "export const up = 'CLUSTER users USING users_pkey'\n",
    },
  })
  const r = await godwit(['check', '--json'], { cwd })
  assert.equal(r.code, 1)
  assert.deepEqual(r.json.violations.filter((v) => v.rule === 'table-rewrite').map((v) => v.file), ['1700000000001_vacuum.mjs', '1700000000002_cluster.mjs'])
})
