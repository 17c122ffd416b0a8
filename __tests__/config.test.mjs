// One configuration source (package.json#godwit or godwit.config.mjs) for the run settings, under
// the environment and the flags: flag > env > PGOPTIONS > configuration > default. Unknown keys
// are errors that name the source.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { godwit } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { project, report, sql, V } from './project.mjs'

after(stopServer)

function configure(cwd, godwitKey) {
  const file = path.join(cwd, 'package.json')
  writeFileSync(file, JSON.stringify({ name: 'app', private: true, godwit: godwitKey }, null, 2))
}

test('run_settings_from_package_json_apply_and_env_and_flags_override_them', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE SCHEMA ops')
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  configure(cwd, { history: { schema: 'ops', table: 'migs' }, lockTimeout: '2s', statementTimeout: '90s', timeoutSeconds: 120, lockRetries: 0 })

  const r = await godwit(['up', '--sha', 'cfg'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  const s = report(cwd, 'cfg').settings
  assert.deepEqual(
    [s.historyTable, s.lockTimeoutMs, s.statementTimeoutMs, s.budgetSeconds, s.lockRetries],
    [{ schema: 'ops', table: 'migs' }, 2000, 90_000, 120, 0],
  )
  assert.deepEqual(await query(url, 'SELECT version FROM ops.migs'), [{ version: V(1) }])

  // status reads the same history table
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(st.code, 0, st.stderr)
  assert.deepEqual(st.json.historyTable, { schema: 'ops', table: 'migs' })

  // the environment over the configuration, the URL's options (PGOPTIONS) over the configuration,
  // a flag over all
  const o = await godwit(['up', '--sha', 'over', '--table', 'migs'], {
    cwd,
    env: { DATABASE_URL: `${url}?options=${encodeURIComponent('-c statement_timeout=45s')}`, MIGRATION_LOCK_TIMEOUT: '3s', MIGRATION_TIMEOUT_SECONDS: '60', MIGRATION_HISTORY_SCHEMA: 'ops' },
  })
  assert.equal(o.code, 0, o.stderr)
  const so = report(cwd, 'over').settings
  assert.deepEqual([so.lockTimeoutMs, so.statementTimeoutMs, so.budgetSeconds, so.lockRetries], [3000, 45_000, 60, 0])
})

test('unknown_or_bad_settings_are_errors_naming_their_source', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  for (const [key, says] of [
    [{ lockTimeot: '2s' }, /package\.json#godwit: `lockTimeot` is not a setting; known: .*lockTimeout/],
    [{ history: { tabel: 'x' } }, /package\.json#godwit: `history\.tabel` is not a setting/],
    [{ timeoutSeconds: -5 }, /package\.json#godwit: `timeoutSeconds` must be a whole number of at least 1/],
  ]) {
    configure(cwd, key)
    for (const command of [['up', '--sha', 'bad'], ['status'], ['check']]) {
      const r = await godwit(command, { cwd, env: { DATABASE_URL: url } })
      assert.equal(r.code, 2, `${command[0]} ${JSON.stringify(key)}: ${r.stderr}`)
      assert.match(r.stderr, says, command[0])
    }
  }
  // nothing was touched
  assert.deepEqual(await query(url, "SELECT to_regclass('public.godwit_migrations') AS t"), [{ t: null }])
})

test('module_timeout_from_godwit_config_mjs_and_env_and_migration_dir', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_slow.mjs`]: "await new Promise((r) => setTimeout(r, 1500))\nexport const up = 'CREATE TABLE slow (id int)'\n",
  })
  writeFileSync(path.join(cwd, 'godwit.config.mjs'), 'export default { moduleTimeout: 300 }\n')
  const bounded = await godwit(['check', '--json'], { cwd })
  assert.equal(bounded.code, 1, bounded.stderr)
  assert.deepEqual(bounded.json.violations.map((v) => v.rule), ['module-timeout'])
  // the environment lifts it for this run
  const lifted = await godwit(['check'], { cwd, env: { MIGRATION_MODULE_TIMEOUT: '10000' } })
  assert.equal(lifted.code, 0, lifted.stderr)
  const bad = await godwit(['check'], { cwd, env: { MIGRATION_MODULE_TIMEOUT: 'soon' } })
  assert.equal(bad.code, 2)
  // one duration grammar for the flag, the variable and the configuration
  assert.match(bad.stderr, /MIGRATION_MODULE_TIMEOUT: `soon` is not a PostgreSQL duration/)
  const lifted2 = await godwit(['check'], { cwd, env: { MIGRATION_MODULE_TIMEOUT: '10s' } })
  assert.equal(lifted2.code, 0, lifted2.stderr)

  // MIGRATION_DIR moves the folder for every command
  renameSync(path.join(cwd, 'db'), path.join(cwd, 'sql'))
  mkdirSync(path.join(cwd, 'db'))
  const moved = await godwit(['up', '--sha', 'moved'], { cwd, env: { DATABASE_URL: url, MIGRATION_DIR: 'sql/migrations', MIGRATION_MODULE_TIMEOUT: '10000' } })
  assert.equal(moved.code, 0, moved.stderr)
  assert.equal(report(cwd, 'moved').migrations[0].state, 'applied')
  assert.ok(readFileSync(path.join(cwd, 'sql', 'migrations', 'checksums.json'), 'utf8').includes(`${V(1)}_slow.mjs`))
})
