// A new user's first hour, tried the way they try it: typos, `help up`, a name the shell split, a
// file name given as a name, running from db/migrations, the author loop without git, the
// untouched template, and a `check` that should judge SQL for the server it will run on.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { godwit, CLI, cleanEnv, git, tmpDir } from './helpers.mjs'
import { admin, freshDatabase, query, stopServer } from './db.mjs'
import { project, sql, V } from './project.mjs'
import { unusedPort } from './net.mjs'
import { spawn } from 'node:child_process'

after(stopServer)

test('an_unknown_option_names_the_command_the_nearest_option_and_the_list', async () => {
  const nope = await godwit(['check', '--nope'])
  assert.equal(nope.code, 2)
  assert.match(nope.stderr, /unknown option `--nope` for `godwit check`\. Its options: --frozen, --base, .*--json, --help/)
  assert.doesNotMatch(nope.stderr, /positional argument|'--"/, 'not parseArgs\' advice about `--`')
  const typo = await godwit(['check', '--jsn'])
  assert.match(typo.stderr, /unknown option `--jsn` for `godwit check`; did you mean `--json`\?/)
  const missing = await godwit(['check', '--dir'])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /option `--dir` needs a value: `--dir <path>`/)
  const valued = await godwit(['status', '--json=yes'])
  assert.match(valued.stderr, /option `--json` takes no value/)
})

test('a_mistyped_command_gets_the_nearest_and_help_takes_a_command', async () => {
  const r = await godwit(['stauts'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /unknown command `stauts`; did you mean `status`\? Commands: create, check, up, plan, status/)
  const far = await godwit(['frobnicate'])
  assert.match(far.stderr, /unknown command `frobnicate`\. Commands:/)
  const help = await godwit(['help', 'up'])
  assert.equal(help.code, 0)
  assert.equal(help.stdout, (await godwit(['up', '--help'])).stdout)
  assert.match(help.stdout, /^godwit up \[options\]/)
  assert.equal((await godwit(['help', 'upp'])).code, 2)
})

test('create_suggests_what_was_meant_for_file_names_accents_and_split_words', async (t) => {
  const cwd = tmpDir(t)
  const cases = [
    [['add_users.mjs'], /try `add_users`/],
    [['1732500000000_add_users.mjs'], /try `add_users`/],
    [['café'], /try `cafe`/],
    [['Straße_Übersicht'], /try `strasse_ubersicht`/],
    [['add', 'user', 'table'], /godwit create takes one name, and got 3 words: did you mean `godwit create add_user_table`\?/],
  ]
  for (const [args, want] of cases) {
    const r = await godwit(['create', ...args], { cwd })
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, want, args.join(' '))
  }
  assert.deepEqual(readdirSync(cwd), [], 'nothing was created')
  const ok = await godwit(['create', 'add_users', '--json'], { cwd })
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.json.ok, true)
  assert.match(ok.json.path, /db\/migrations\/\d{13}_add_users\.mjs$/)
})

test('from_db_migrations_the_commands_run_for_the_package_above', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'app', godwit: { history: { table: 'app_history' } } }))
  const inner = path.join(cwd, 'db', 'migrations')
  const up = await godwit(['up', '--sha', 'sub', '--json'], { cwd: inner, env: { DATABASE_URL: url } })
  assert.equal(up.code, 0, up.stderr)
  // the package's configuration applied, and the report went to the package's .artifacts
  assert.deepEqual(await query(url, 'SELECT version FROM app_history'), [{ version: V(1) }])
  assert.ok(readdirSync(path.join(cwd, '.artifacts', 'deploy')).includes('sub'))
  const status = await godwit(['status', '--json'], { cwd: inner, env: { DATABASE_URL: url } })
  assert.equal(status.code, 0, status.stderr)
  // a path typed there is still relative to where it was typed
  const dir = await godwit(['status', '--json', '--dir', '.'], { cwd: inner, env: { DATABASE_URL: url } })
  assert.equal(dir.code, 0, dir.stderr)
  assert.equal(dir.json.migrations.length, 1)
})

test('the_author_loop_works_outside_git_and_ci_stays_strict', async (t) => {
  const cwd = tmpDir(t)
  const created = await godwit(['create', 'add_widgets', '--json'], { cwd })
  assert.equal(created.code, 0, created.stderr)
  const file = path.resolve(cwd, created.json.path)
  writeFileSync(file, 'export const up = `CREATE TABLE widgets (id bigint PRIMARY KEY)`\n')
  const check = await godwit(['check'], { cwd })
  assert.equal(check.code, 0, check.stdout + check.stderr)
  assert.match(check.stdout, /sealed/)
  // CI without git must say nothing is merged (else BASE_UNKNOWN); then the ledger is strict
  const frozen = await godwit(['check', '--frozen', '--base', 'none'], { cwd })
  assert.equal(frozen.code, 0, frozen.stdout + frozen.stderr)
  writeFileSync(file, 'export const up = `CREATE TABLE widgets (id int)`\n')
  const ci = await godwit(['check', '--base', 'none'], { cwd, env: { CI: 'true' } })
  assert.equal(ci.code, 1)
  assert.match(ci.stdout, /ledger-mismatch/)
})

test('up_on_the_untouched_template_is_refused_as_invalid_before_anything_runs', async (t) => {
  const url = await freshDatabase(t)
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  assert.equal((await godwit(['create', 'add_widgets'], { cwd })).code, 0)
  const r = await godwit(['up', '--sha', 'template', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID')
  assert.equal(r.json.outcome, 'refused')
  assert.match(r.json.error.message, /renders no SQL statement \(sql-empty\); nothing was run\. Fix: write the migration's SQL/)
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['pending'])
  const rows = await query(url, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'godwit_migrations'")
  if (rows[0].n > 0) assert.deepEqual(await query(url, 'SELECT version FROM godwit_migrations'), [])
})

test('status_counts_file_problems_in_its_summary_and_json_errors_carry_the_exit_code', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  writeFileSync(path.join(cwd, 'db', 'migrations', 'notes.txt'), 'not a migration')
  const r = await godwit(['status'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.stderr, /status: 1 file problem\(s\), 1 pending/)
  assert.doesNotMatch(r.stderr, /0 problem/)
  const noConn = await godwit(['status', '--json'], { cwd })
  assert.equal(noConn.code, 2)
  assert.equal(noConn.json.ok, false)
  assert.equal(noConn.json.exitCode, 2)
  assert.deepEqual([noConn.json.error.code, noConn.json.error.exitCode], ['CONFIG', 2])
})

test('a_report_git_would_commit_gets_a_gitignore_note', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'n'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /note: git does not ignore \.artifacts\/deploy\/n\/migration\.json: add \.artifacts\/ to \.gitignore/)
  writeFileSync(path.join(cwd, '.gitignore'), '.artifacts/\n')
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(2)}_b.mjs`), sql('CREATE TABLE b (id int)'))
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  const again = await godwit(['up', '--sha', 'n2'], { cwd, env: { DATABASE_URL: url } })
  assert.match(again.stderr, /applied 1 migration/)
  assert.equal(again.code, 0, again.stderr)
  assert.doesNotMatch(again.stderr, /gitignore/)
})

test('check_judges_sql_for_the_servers_version_unless_the_project_pins_one', async (t) => {
  const url = await freshDatabase(t)
  const major = String(Math.floor(Number((await query(url, 'SHOW server_version_num'))[0].server_version_num) / 10000))
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const asked = await godwit(['check', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(asked.code, 0, asked.stderr)
  assert.equal(asked.json.policy.postgresVersion, major)
  const said = await godwit(['check'], { cwd, env: { DATABASE_URL: url } })
  assert.match(said.stderr, new RegExp(`SQL judged for PostgreSQL ${major}, the server's`))
  // pinned by the project: the server is not asked
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ godwit: { postgresVersion: '13' } }))
  const pinned = await godwit(['check', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(pinned.json.policy.postgresVersion, '13')
  // a server that is not there: the default, said, and check still passes
  writeFileSync(path.join(cwd, 'package.json'), '{}')
  const port = await unusedPort()
  const away = await godwit(['check'], { cwd, env: { DATABASE_URL: `postgres://u@127.0.0.1:${port}/d` } })
  assert.equal(away.code, 0, away.stderr)
  assert.match(away.stderr, /the server was not asked for its version \(CONNECT_FAILED\); SQL judged for the default PostgreSQL/)
})

test('a_server_that_never_answers_delays_check_by_three_seconds_at_most', async (t) => {
  // accepts the connection and says nothing: the version lookup is bounded, check goes on
  const silent = net.createServer(() => {})
  await new Promise((r) => silent.listen(0, '127.0.0.1', r))
  t.after(() => silent.close())
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const started = Date.now()
  const child = spawn(process.execPath, [CLI, 'check'], { cwd, env: cleanEnv({ DATABASE_URL: `postgres://u@127.0.0.1:${silent.address().port}/d` }) })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const code = await new Promise((r) => child.on('close', r))
  assert.equal(code, 0, stderr)
  assert.match(stderr, /not asked for its version/)
  assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`)
})

const withDown = (up, down) => `export const up = ${JSON.stringify(up)}\nexport const down = ${JSON.stringify(down)}\n`

test('up_to_and_down_to_stop_at_the_target', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, Object.fromEntries(['a', 'b', 'c', 'd'].map((n, i) => [`${V(i + 1)}_${n}.mjs`, withDown(`CREATE TABLE ${n} (id int)`, `DROP TABLE ${n}`)])))
  const env = { DATABASE_URL: url }
  const to2 = await godwit(['up', '--to', V(2), '--sha', 'to', '--json'], { cwd, env })
  assert.equal(to2.code, 0, to2.stderr)
  assert.deepEqual(to2.json.migrations.map((m) => m.state), ['applied', 'applied', 'pending', 'pending'])
  const unknown = await godwit(['up', '--to', '1700000000099', '--sha', 'to', '--json'], { cwd, env })
  assert.equal(unknown.code, 2)
  assert.match(unknown.json.error.message, /--to 1700000000099: no migration has this version \(the versions run from 1700000000001 to 1700000000004\); nothing was run/)
  assert.equal((await godwit(['up', '--to', 'latest'], { cwd, env })).code, 2)
  assert.equal((await godwit(['up', '--sha', 'to'], { cwd, env })).code, 0)
  const down = await godwit(['down', '--to', V(1), '--sha', 'to', '--json'], { cwd, env })
  assert.equal(down.code, 0, down.stderr)
  assert.deepEqual(down.json.migrations.map((m) => m.state), ['already-applied', 'reverted', 'reverted', 'reverted'])
  assert.deepEqual((await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename), ['a', 'godwit_migrations'])
  assert.equal((await godwit(['down', '--to', V(1), '--count', '1'], { cwd, env })).code, 2)
})

test('plan_lists_what_up_would_run_with_settings_and_sql_and_changes_nothing', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY, email text)'),
    [`${V(2)}_a_email.mjs`]: "export const config = { transaction: false }\nexport const up = 'CREATE INDEX CONCURRENTLY a_email ON a (email)'\n",
    [`${V(3)}_b.mjs`]: "export const config = { lockTimeout: '2s' }\nexport const up = ['CREATE TABLE b (id int)', 'ALTER TABLE b ADD COLUMN v text']\n",
  })
  const env = { DATABASE_URL: url }
  // on a database without godwit's history: a plan does not create it
  const fresh = await godwit(['plan', '--sha', 'p', '--json'], { cwd, env })
  assert.equal(fresh.code, 0, fresh.stderr)
  assert.equal(fresh.json.command, 'plan')
  assert.equal(fresh.json.plan.length, 3)
  assert.deepEqual(await query(url, "SELECT to_regclass('godwit_migrations')::text AS t"), [{ t: null }])

  assert.equal((await godwit(['up', '--to', V(1), '--sha', 'p'], { cwd, env })).code, 0)
  // the lock held elsewhere does not stop a plan: it takes none
  const holder = await admin(url)
  holder.on('error', () => {}) // ended by the database's drop after the test
  t.after(() => holder.end())
  await holder.query('SELECT pg_advisory_lock(2873364230597916043)')
  const r = await godwit(['plan', '--sha', 'p', '--json'], { cwd, env })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.outcome, 'planned')
  assert.equal(r.json.lockWaitMs, null)
  assert.deepEqual(r.json.plan.map((m) => [m.file, m.transactional, m.ownTimeouts]), [[`${V(2)}_a_email.mjs`, false, false], [`${V(3)}_b.mjs`, true, true]])
  assert.deepEqual(r.json.plan[0].sql, ['CREATE INDEX CONCURRENTLY a_email ON a (email)'])
  assert.deepEqual(r.json.plan[1].sql, ['CREATE TABLE b (id int)', 'ALTER TABLE b ADD COLUMN v text'])
  assert.equal(r.json.plan[1].lockTimeoutMs, 2000)
  assert.equal(r.json.plan[0].lockTimeoutMs, r.json.settings.lockTimeoutMs)
  assert.match(r.json.reportPath, /\.artifacts\/deploy\/p\/plan\.json$/)
  // nothing ran
  assert.deepEqual((await query(url, 'SELECT version FROM godwit_migrations ORDER BY 1')).map((x) => x.version), [V(1)])
  assert.deepEqual(await query(url, "SELECT to_regclass('b')::text AS b, to_regclass('a_email')::text AS i"), [{ b: null, i: null }])

  // as people read it; `up --dry-run` is the same
  const text = await godwit(['plan', '--sha', 'p'], { cwd, env })
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, new RegExp(`^-- \\[1/2\\] ${V(2)}_a_email\\.mjs\\n-- no transaction: each statement on its own; lock_timeout \\d+\\w*, statement_timeout \\d+\\w*; sql sha256 [0-9a-f]{12}\\nCREATE INDEX CONCURRENTLY a_email ON a \\(email\\);\\n`))
  assert.match(text.stdout, /-- \[2\/2\] .*_b\.mjs\n-- in one transaction with its history row; lock_timeout 2s, .*\(its own config\)/)
  assert.match(text.stderr, /plan: 2 migrations would be applied; nothing was run/)
  const dry = await godwit(['up', '--dry-run', '--sha', 'p'], { cwd, env })
  assert.equal(dry.code, 0, dry.stderr)
  assert.equal(dry.stdout, text.stdout)
  const to = await godwit(['plan', '--to', V(2), '--sha', 'p', '--json'], { cwd, env })
  assert.deepEqual(to.json.plan.map((m) => m.version), [V(2)])
  assert.deepEqual((await query(url, 'SELECT version FROM godwit_migrations ORDER BY 1')).map((x) => x.version), [V(1)])
})

test('plan_refuses_what_up_would_refuse', async (t) => {
  const url = await freshDatabase(t)
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  assert.equal((await godwit(['create', 'untouched'], { cwd })).code, 0)
  const r = await godwit(['plan', '--sha', 'p', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID')
})

test('a_percent_sign_before_a_multibyte_character_in_a_url_parameter_is_a_config_error_not_a_panic', async (t) => {
  // found by the fuzz property: decoding `%aé` sliced inside `é` and panicked in the addon
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['status'], { cwd, env: { DATABASE_URL: 'postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=%aé' } })
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /\[CONFIG\] sslrootcert %aé cannot be read/)
  assert.doesNotMatch(r.stderr, /INTERNAL|panic/i)
})
