// `verify` through the real CLI against a real PostgreSQL: passes on a good set, fails naming the
// migration on a set that cannot apply, fails on migrations that do not rebuild the same schema,
// never touches the database DATABASE_URL names, and leaves no scratch database behind.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { godwit, ROOT } from './helpers.mjs'
import { project, sql, V, tables } from './project.mjs'
import { freshDatabase, query, admin, server, stopServer } from './db.mjs'

after(stopServer)

async function scratchLeft(url, names) {
  const rows = await query(url, 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [names])
  return rows.map((r) => r.datname)
}

function verifyReport(cwd) {
  return JSON.parse(readFileSync(path.join(cwd, '.artifacts', 'deploy', 'verify', 'verify.json'), 'utf8'))
}

test('a_good_set_verifies_and_the_named_database_is_untouched', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {})
  cpSync(path.join(ROOT, 'db', 'migrations'), path.join(cwd, 'db', 'migrations'), { recursive: true })
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.json.outcome, 'verified')
  assert.deepEqual(r.json.steps.map((s) => s.step), ['check', 'first-up', 'second-up', 'idempotent', 'schema-file', 'status', 'rebuild-up', 'reproducible'])
  assert.equal(r.json.steps.find((s) => s.step === 'first-up').applied, 4)
  assert.equal(r.json.steps.find((s) => s.step === 'second-up').applied, 0)
  assert.match(r.json.fingerprint.hash, /^[0-9a-f]{64}$/)
  assert.ok(r.json.fingerprint.objects > 10, `${r.json.fingerprint.objects} objects`)
  assert.equal(r.json.dropped, true)
  assert.deepEqual(await scratchLeft(url, r.json.scratchDatabases), [])
  assert.deepEqual(await tables(url), [], 'nothing applied to the database DATABASE_URL names')
  assert.deepEqual(verifyReport(cwd).outcome, 'verified')
})

test('a_verify_whose_report_cannot_be_written_prints_it_and_exits_70_with_nothing_left', async (t) => {
  // before: verify ran to the end, dropped its databases, then died on writing verify.json with
  // Node's own ENOTDIR (exit 70 without a word of what it had found)
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)') })
  writeFileSync(path.join(cwd, 'not-a-folder'), 'x')
  const r = await godwit(['verify', '--artifacts-dir', 'not-a-folder'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 70, r.stdout + r.stderr)
  assert.match(r.stderr, /verify: ok: check -> first-up/, 'what verify found is said')
  assert.match(r.stderr, /verify: \[REPORT_NOT_WRITTEN\] the report could not be written: \S*not-a-folder\S*: Not a directory/)
  const printed = JSON.parse(r.stdout)
  assert.equal(printed.outcome, 'verified')
  assert.equal(printed.reportPath, null)
  assert.equal(printed.dropped, true)
  assert.deepEqual(await scratchLeft(url, printed.scratchDatabases), [])
  // a verify that fails for its own reason keeps that reason's exit code
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(2)}_b.mjs`), sql('ALTER TABLE missing ADD COLUMN v text'))
  assert.equal((await godwit(['check'], { cwd })).code, 0, 'sealed')
  const failed = await godwit(['verify', '--artifacts-dir', 'not-a-folder'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(failed.code, 5, failed.stderr)
  assert.match(failed.stderr, /\[MIGRATION_FAILED\].*relation "missing" does not exist/)
  assert.match(failed.stderr, /\[REPORT_NOT_WRITTEN\]/)
  assert.equal(JSON.parse(failed.stdout).dropped, true)
})

test('a_set_that_cannot_apply_fails_naming_the_migration_and_leaves_nothing', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)'),
    [`${V(2)}_b.mjs`]: sql('ALTER TABLE missing ADD COLUMN v text'),
  })
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 5, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_FAILED')
  assert.match(r.json.error.message, new RegExp(`first-up: ${V(2)}_b\\.mjs failed: relation "missing" does not exist`))
  assert.equal(r.json.dropped, true)
  assert.deepEqual(await scratchLeft(url, r.json.scratchDatabases), [])
})

test('a_read_only_database_is_refused_as_configuration_before_any_scratch_database', async (t) => {
  const url = await freshDatabase(t)
  const db = new URL(url).pathname.slice(1)
  const { url: serverUrl } = await server()
  const c = await admin(serverUrl)
  await c.query(`ALTER DATABASE "${db}" SET default_transaction_read_only = on`)
  await c.end()
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  // before: DB_ERROR (exit 70), the server's "cannot execute CREATE DATABASE in a read-only transaction"
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'CONFIG')
  assert.match(r.json.error.message, /verify creates its scratch databases on the server DATABASE_URL names, and sessions on postgres:\/\/\S+ are read-only .*point DATABASE_URL at a writable CI server/)
  assert.doesNotMatch(r.stdout + r.stderr, /password|secret/i)
  assert.equal(r.json.dropped, true)
  assert.deepEqual(await scratchLeft(url, r.json.scratchDatabases), [])
  assert.equal(verifyReport(cwd).error.code, 'CONFIG')
})

test('migrations_whose_sql_changes_between_runs_fail_the_fingerprint', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)'),
    // not deterministic: the table name depends on when the module is rendered
    [`${V(2)}_stamp.mjs`]: 'export const up = () => `CREATE TABLE snapshot_${Date.now()}_${process.hrtime.bigint()} (id bigint)`\n',
  })
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'NOT_REPRODUCIBLE')
  assert.ok(r.json.diff.onlyBefore.some((l) => /^relation public\.snapshot_\d+/.test(l)), JSON.stringify(r.json.diff))
  assert.deepEqual(await scratchLeft(url, r.json.scratchDatabases), [])
})

test('a_failing_check_stops_before_any_database_is_created', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)') })
  cpSync(path.join(ROOT, '__tests__', 'fixtures', 'policy', 'dangerous', '1700000000017_drop_table_undeclared.mjs'), path.join(cwd, 'db', 'migrations', `${V(2)}_drop.mjs`))
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 1)
  assert.equal(r.json.error.code, 'CHECK_FAILED')
  assert.match(r.json.error.message, /destructive-undeclared|ledger-missing-entry/)
  assert.deepEqual(r.json.steps.map((s) => s.step), ['check'])
  assert.deepEqual(await scratchLeft(url, r.json.scratchDatabases), [])
})

test('sigint_during_verify_exits_6_and_drops_the_scratch_databases', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('CREATE TABLE s (id bigint); SELECT pg_sleep(30)') })
  const { spawn } = await import('node:child_process')
  const { CLI, cleanEnv } = await import('./helpers.mjs')
  const child = spawn(process.execPath, [CLI, 'verify', '--json'], { cwd, env: cleanEnv({ DATABASE_URL: url }) })
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  const sleeping = async () =>
    (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid() AND datname = current_database()"))[0].n
  for (let i = 0; i < 100 && (await sleeping()) === 0; i++) await new Promise((r) => setTimeout(r, 100))
  child.kill('SIGINT')
  const code = await new Promise((r) => child.on('close', r))
  assert.equal(code, 6, stdout)
  const report = JSON.parse(stdout)
  assert.equal(report.outcome, 'interrupted')
  assert.equal(report.dropped, true)
  assert.deepEqual(await scratchLeft(url, report.scratchDatabases), [])
})

test('status_github_output_tells_the_pipeline_whether_migrations_are_required', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)') })
  const out = path.join(cwd, 'github-output')
  const env = { DATABASE_URL: url, GITHUB_OUTPUT: out }
  const before = await godwit(['status', '--github-output'], { cwd, env })
  assert.equal(before.code, 1)
  assert.equal(readFileSync(out, 'utf8'), 'requires_migrations=true\nclean=false\n')
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  assert.equal((await godwit(['status', '--github-output'], { cwd, env })).code, 0)
  assert.equal(readFileSync(out, 'utf8'), 'requires_migrations=true\nclean=false\nrequires_migrations=false\nclean=true\n')
  const missing = await godwit(['status', '--github-output'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /GITHUB_OUTPUT/)
})

test('status_github_output_that_cannot_be_written_fails_the_step_with_io_and_still_says_the_status', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)') })
  const lost = { DATABASE_URL: url, GITHUB_OUTPUT: path.join(cwd, 'no-such-folder', 'outputs') }
  // pending would be exit 1, which the example workflow accepts: without the outputs the
  // migration job would be skipped, so the step fails with IO's 70 instead
  const pending = await godwit(['status', '--github-output'], { cwd, env: lost })
  assert.equal(pending.code, 70, pending.stderr)
  assert.match(pending.stderr, /status: \[IO\] --github-output: appending the step outputs to \S*no-such-folder\/outputs \(GITHUB_OUTPUT\) failed \(ENOENT\)/)
  assert.match(pending.stderr, /status: 1 pending/)
  assert.match(pending.stdout, new RegExp(`${V(1)}_a\\.mjs`))
  const json = await godwit(['status', '--github-output', '--json'], { cwd, env: lost })
  assert.equal(json.code, 70, json.stderr)
  assert.equal(json.json.requiresMigrations, true)
  // a status that failed for its own reason keeps its code (4): the step fails either way
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(1)}_a.mjs`), sql('CREATE TABLE a (id int)'))
  const changed = await godwit(['status', '--github-output'], { cwd, env: lost })
  assert.equal(changed.code, 4, changed.stderr)
  assert.match(changed.stderr, /\[IO\] --github-output/)
})

test('a_scratch_database_that_cannot_be_dropped_is_named_with_why_and_the_verdict_stands', async (t) => {
  // verify as a role that may create databases but is not a superuser; a superuser's session
  // sits in the first scratch database, which DROP DATABASE ... WITH (FORCE) may not end for it
  const url = await freshDatabase(t)
  const { url: serverUrl } = await server()
  const role = `gw_verifier_${process.pid}`
  const secret = 'verifier-pw-8841'
  const a = await admin(serverUrl)
  await a.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${secret}'`)
  await a.end()
  const holders = []
  t.after(async () => {
    for (const h of holders) await h.end().catch(() => {})
    const c = await admin(serverUrl)
    const left = (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'godwit_verify_%' AND pg_get_userbyid(datdba) = $1", [role])).rows
    for (const { datname } of left) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)
    await c.query(`DROP ROLE IF EXISTS ${role}`)
    await c.end()
  })
  const as = new URL(url)
  as.username = role
  as.password = secret
  // the first migration waits, so the superuser's session is in place before the run ends
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int); SELECT pg_sleep(2)') })
  const run = godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: as.toString() } })
  let held = null
  for (let i = 0; i < 100 && !held; i++) {
    const rows = await query(serverUrl, "SELECT datname FROM pg_database WHERE datname LIKE 'godwit_verify_%' AND pg_get_userbyid(datdba) = $1 ORDER BY oid LIMIT 1", [role])
    if (rows.length) {
      const u = new URL(serverUrl)
      u.pathname = '/' + rows[0].datname
      const h = await admin(u.toString())
      holders.push(h)
      held = rows[0].datname
    } else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.ok(held, 'the first scratch database appeared')
  const r = await run
  // the verdict is the migrations': verified, exit 0
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.json.outcome, 'verified')
  assert.equal(r.json.dropped, false)
  // the database left behind is named, with the server's reason; the other one was dropped
  assert.match(r.json.dropError, new RegExp(`^${held}: .*(terminate|being accessed by other users)`))
  assert.equal(r.json.dropError.split('; ').length, 1, r.json.dropError)
  assert.deepEqual(await scratchLeft(serverUrl, r.json.scratchDatabases), [held])
  assert.match(r.stderr, new RegExp(`verify: a scratch database could not be dropped: ${held}: `))
  assert.deepEqual(verifyReport(cwd).dropped, false)
  for (const out of [r.stdout, r.stderr, readFileSync(path.join(cwd, '.artifacts', 'deploy', 'verify', 'verify.json'), 'utf8')]) assert.ok(!out.includes(secret), 'no password printed')
})
