// `up` and `status` against a real PostgreSQL, through the real CLI.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, readFileSync, existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { CLI, godwit, cleanEnv } from './helpers.mjs'
import { project, sql, V, report, tables } from './project.mjs'
import { freshDatabase, query, admin, server, stopServer } from './db.mjs'

after(stopServer)

test('applies_from_empty_then_second_up_is_a_noop_and_status_is_clean', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint PRIMARY KEY)'),
    [`${V(2)}_b.mjs`]: "export const up = async () => ['CREATE TABLE b (id bigint PRIMARY KEY)', 'ALTER TABLE b ADD COLUMN v text']\n",
  })
  const env = { DATABASE_URL: url }
  const first = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.json.outcome, 'applied')
  assert.deepEqual(first.json.migrations.map((m) => m.state), ['applied', 'applied'])
  assert.ok(first.json.migrations.every((m) => /^[0-9a-f]{64}$/.test(m.sqlChecksum)))
  assert.deepEqual(await tables(url), ['a', 'b', 'godwit_migrations'])
  const hist = await query(url, 'SELECT version, status, transactional, release_sha FROM godwit_migrations ORDER BY version')
  assert.deepEqual(hist, [
    { version: V(1), status: 'applied', transactional: true, release_sha: 'test' },
    { version: V(2), status: 'applied', transactional: true, release_sha: 'test' },
  ])
  const second = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(second.code, 0)
  assert.equal(second.json.outcome, 'nothing-to-do')
  assert.deepEqual(second.json.migrations.map((m) => m.state), ['already-applied', 'already-applied'])
  assert.equal((await query(url, 'SELECT count(*)::int AS n FROM godwit_migrations'))[0].n, 2)
  const st = await godwit(['status', '--json'], { cwd, env })
  assert.equal(st.code, 0)
  assert.equal(st.json.clean, true)
  assert.equal(st.json.requiresMigrations, false)
  assert.equal(st.json.requires_migrations, false)
  assert.deepEqual(report(cwd).outcome, 'nothing-to-do')
})

test('third_of_five_fails_nothing_of_it_left_later_ones_untouched', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_one.mjs`]: sql('CREATE TABLE one (id int)'),
    [`${V(2)}_two.mjs`]: sql('CREATE TABLE two (id int)'),
    [`${V(3)}_three.mjs`]: sql('CREATE TABLE three (id int);\nINSERT INTO three VALUES (1);\nINSERT INTO nope VALUES (1);'),
    [`${V(4)}_four.mjs`]: sql('CREATE TABLE four (id int)'),
    [`${V(5)}_five.mjs`]: sql('CREATE TABLE five (id int)'),
  })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 5, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_FAILED')
  assert.deepEqual(await tables(url), ['godwit_migrations', 'one', 'two'])
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'applied', 'failed', 'pending', 'pending'])
  const f = report(cwd).failure
  assert.equal(f.sqlstate, '42P01')
  assert.equal(f.file, `${V(3)}_three.mjs`)
  assert.equal(f.line, 3)
  assert.match(f.statement, /INSERT INTO nope/)
  // the failed transactional migration was never applied: fixing it unblocks the next run
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(st.code, 1)
  assert.equal(st.json.requires_migrations, true)
  assert.equal(st.json.clean, false)
  assert.deepEqual(st.json.migrations.map((m) => m.state), ['applied', 'applied', 'pending', 'pending', 'pending'])
})

test('two_concurrent_runs_apply_every_migration_exactly_once', async (t) => {
  const url = await freshDatabase(t)
  const migrations = {}
  for (let i = 1; i <= 20; i++) migrations[`${V(i)}_m${i}.mjs`] = sql(`CREATE TABLE m${i} (id int); SELECT pg_sleep(0.02)`)
  const cwd = await project(t, migrations)
  const env = { DATABASE_URL: url }
  const [a, b] = await Promise.all([godwit(['up', '--sha', 'a'], { cwd, env }), godwit(['up', '--sha', 'b'], { cwd, env })])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)
  const rows = await query(url, 'SELECT version, count(*)::int AS n FROM godwit_migrations GROUP BY version')
  assert.equal(rows.length, 20)
  assert.ok(rows.every((r) => r.n === 1))
})

test('lock_held_elsewhere_exits_3_within_the_budget', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('SELECT pg_sleep(4)') })
  const env = { DATABASE_URL: url }
  const holder = godwit(['up', '--sha', 'holder'], { cwd, env })
  await new Promise((r) => setTimeout(r, 1200))
  const t0 = Date.now()
  // without --json, so the progress lines (who holds the lock) go to stderr
  const waiter = await godwit(['up', '--sha', 'waiter'], { cwd, env: { ...env, MIGRATION_TIMEOUT_SECONDS: '1' } })
  const elapsed = Date.now() - t0
  assert.equal(waiter.code, 3, waiter.stderr)
  assert.match(waiter.stderr, /waiting for the migration lock, held by pid \d+ \(godwit\), state \w+, connected since \d{4}-\d\d-\d\dT/)
  const r = report(cwd, 'waiter')
  assert.equal(r.error.code, 'LOCK_NOT_ACQUIRED')
  assert.equal(r.outcome, 'lock-timeout')
  assert.match(r.error.message, /held by pid \d+/)
  assert.ok(r.lockWaitMs >= 900, `waited ${r.lockWaitMs} ms: ${JSON.stringify(r.error)} ${waiter.stderr}`)
  assert.ok(elapsed < 4000, `took ${elapsed} ms`)
  assert.equal((await holder).code, 0)
})

test('statement_timeout_fires_with_its_sqlstate', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('SELECT pg_sleep(5)') })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_STATEMENT_TIMEOUT: '300ms' } })
  assert.equal(r.code, 5)
  assert.equal(report(cwd).failure.sqlstate, '57014')
})

test('lock_timeout_is_retried_then_fails_and_a_later_run_applies', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE TABLE busy (id int)')
  const cwd = await project(t, { [`${V(1)}_alter.mjs`]: sql('ALTER TABLE busy ADD COLUMN v text') })
  const blocker = await admin(url)
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE')
  const env = { DATABASE_URL: url, MIGRATION_LOCK_TIMEOUT: '100ms', MIGRATION_LOCK_RETRIES: '2', MIGRATION_ALLOW_EXISTING_SCHEMA: '1' }
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 5)
  assert.equal(report(cwd).failure.sqlstate, '55P03')
  assert.equal(r.json.migrations[0].attempts, 3)
  await blocker.query('ROLLBACK')
  await blocker.end()
  const again = await godwit(['up', '--sha', 'test'], { cwd, env })
  assert.equal(again.code, 0, again.stderr)
  const cols = await query(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1")
  assert.deepEqual(cols.map((c) => c.column_name), ['id', 'v'])
})

test('concurrent_index_applies_outside_a_transaction_and_is_valid', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_t.mjs`]: sql('CREATE TABLE t (a int)'),
    [`${V(2)}_idx.mjs`]: "export const up = 'CREATE INDEX CONCURRENTLY t_a_idx ON t (a)'\nexport const config = { transaction: false }\n",
  })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  const idx = await query(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a_idx'::regclass")
  assert.deepEqual(idx, [{ indisvalid: true }])
  assert.deepEqual(await query(url, `SELECT transactional FROM godwit_migrations WHERE version = '${V(2)}'`), [{ transactional: false }])
})

test('edited_applied_migration_with_resealed_ledger_is_refused', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  writeFileSync(path.join(cwd, 'db/migrations', `${V(1)}_a.mjs`), sql('CREATE TABLE a (id bigint)'))
  assert.equal((await godwit(['check'], { cwd })).code, 0, 're-sealed')
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 4)
  assert.equal(r.json.error.code, 'INTEGRITY')
  assert.deepEqual(
    r.json.problems.map((p) => [p.file, p.version, p.kind]),
    [[`${V(1)}_a.mjs`, V(1), 'changed']],
  )
  assert.match(r.json.problems[0].fix, /new migration/)
  const st = await godwit(['status', '--json'], { cwd, env })
  assert.equal(st.code, 4)
  assert.equal(st.json.migrations[0].state, 'changed')
})

test('status_prints_every_row_as_its_json_says_with_fixes_colours_and_file_problems', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'), [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)') })
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  writeFileSync(path.join(cwd, 'db/migrations', `${V(1)}_a.mjs`), sql('CREATE TABLE a (id bigint)'))
  writeFileSync(path.join(cwd, 'db/migrations', `${V(3)}_c.mjs`), sql('CREATE TABLE c (id int)'))
  assert.equal((await godwit(['check'], { cwd })).code, 0, 're-sealed')
  writeFileSync(path.join(cwd, 'db/migrations', 'not_a_migration.mjs'), sql('SELECT 1'))
  const { json } = await godwit(['status', '--json'], { cwd, env })
  assert.deepEqual(json.migrations.map((m) => m.state), ['changed', 'applied', 'pending'])
  assert.equal(json.fileViolations.length, 1)
  // the listing the core makes is the one the rows describe (this is how Node used to build it)
  const expected = (on) => {
    const paint = (code, s) => (on ? `\x1b[${code}m${s}\x1b[39m` : s)
    const colour = { applied: 32, pending: 33, ahead: 33 }
    const rows = json.migrations.map((m) => {
      const when = m.appliedAt ? ` ${m.appliedAt} (${m.baselined ? 'baseline: ran before godwit' : `${m.executionMs} ms`})` : ''
      return `${m.version}  ${paint(colour[m.state] ?? 31, m.state.padEnd(12))} ${m.file ?? m.name}${when}${m.fix ? `\n    fix: ${m.fix}` : ''}\n`
    })
    const files = json.fileViolations.map((v) => `${v.file}: ${paint(31, v.rule)}: ${v.message}\n`)
    return rows.join('') + files.join('')
  }
  for (const on of [false, true]) {
    const r = await godwit(['status'], { cwd, env: { ...env, ...(on ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' }) } })
    assert.equal(r.code, 4)
    assert.equal(r.stdout, expected(on), on ? 'coloured' : 'plain')
    assert.match(r.stdout, /\n    fix: .+/)
    assert.match(r.stderr, /status: 1 migration problem\(s\), 1 file problem\(s\), 1 pending/)
  }
})

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  test(`${signal.toLowerCase()}_during_a_long_statement_cancels_releases_and_next_up_proceeds`, async (t) => {
    const url = await freshDatabase(t)
    const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('CREATE TABLE s (id int); SELECT pg_sleep(30)') })
    const env = { DATABASE_URL: url }
    const child = spawn(process.execPath, [CLI, 'up', '--sha', 'test'], { cwd, env: cleanEnv(env) })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    // wait until the statement is running on the server
    const running = async () =>
      (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid() AND datname = current_database()"))[0].n
    for (let i = 0; i < 100 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal(await running(), 1, `the statement runs on the server before the signal; godwit said: ${stderr}`)
    const t0 = Date.now()
    child.kill(signal)
    const code = await new Promise((r) => child.on('close', r))
    assert.equal(code, 6, stderr)
    assert.ok(Date.now() - t0 < 5000)
    const rep = report(cwd)
    assert.equal(rep.outcome, 'interrupted')
    assert.equal(rep.error.code, 'INTERRUPTED')
    assert.match(rep.error.message, new RegExp(signal))
    assert.deepEqual(await tables(url), ['godwit_migrations'], 'rolled back')
    assert.equal(await running(), 0, 'the statement was cancelled on the server')
    const locks = await query(url, "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    assert.equal(locks[0].n, 0, 'lock released')
    writeFileSync(path.join(cwd, 'db/migrations', `${V(1)}_slow.mjs`), sql('CREATE TABLE s (id int)'))
    assert.equal((await godwit(['check'], { cwd })).code, 0)
    const next = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { ...env, MIGRATION_TIMEOUT_SECONDS: '5' } })
    assert.equal(next.code, 0, next.stderr)
  })
}

test('failed_concurrent_index_records_failed_names_the_invalid_index_and_blocks_until_resolved', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_t.mjs`]: sql("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1)"),
    [`${V(2)}_idx.mjs`]: "export const up = 'CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)'\nexport const config = { transaction: false }\n",
    [`${V(3)}_later.mjs`]: sql('CREATE TABLE later (id int)'),
  })
  const env = { DATABASE_URL: url }
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 5, r.stderr)
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'failed', 'pending'])
  const f = report(cwd).failure
  assert.equal(f.sqlstate, '23505')
  assert.deepEqual(f.invalidIndexes, ['t_a_key'])
  assert.match(r.json.error.message, /INVALID index\(es\) t_a_key: drop them/)
  assert.deepEqual(await query(url, `SELECT status FROM godwit_migrations WHERE version = '${V(2)}'`), [{ status: 'failed' }])
  // unresolved: the next run refuses and says how out
  const again = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(again.code, 4)
  assert.deepEqual(again.json.problems.map((p) => [p.version, p.kind]), [[V(2), 'failed']])
  assert.match(again.json.problems[0].fix, /DROP INDEX CONCURRENTLY/)
  assert.ok(!(await tables(url)).includes('later'))
  // the documented way out: drop the index, delete the failed row, fix the data, run up again
  await query(url, 'DROP INDEX CONCURRENTLY t_a_key')
  await query(url, `DELETE FROM godwit_migrations WHERE version = '${V(2)}' AND status = 'failed'`)
  await query(url, 'DELETE FROM t')
  const fixed = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(fixed.code, 0, fixed.stderr)
  assert.deepEqual(await query(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a_key'::regclass"), [{ indisvalid: true }])
})

test('files_that_disagree_with_the_ledger_are_refused_before_connecting', async (t) => {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  writeFileSync(path.join(cwd, 'db/migrations', `${V(1)}_a.mjs`), sql('CREATE TABLE a (id bigint)'))
  writeFileSync(path.join(cwd, 'db/migrations', `${V(2)}_b.mjs`), sql('CREATE TABLE b (id int)'))
  // a port nothing listens on: refusing must not need the database
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: 'postgres://u@127.0.0.1:1/db' } })
  assert.equal(r.code, 4, r.stderr)
  assert.equal(r.json.outcome, 'refused')
  assert.deepEqual(
    r.json.problems.map((p) => [p.file, p.kind]),
    [[`${V(1)}_a.mjs`, 'ledger-mismatch'], [`${V(2)}_b.mjs`, 'ledger-missing-entry']],
  )
  assert.ok(r.json.problems.every((p) => p.fix.includes('db:migrate:check')))
})

test('budget_exhausted_mid_statement_exits_3_and_rolls_back', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('CREATE TABLE s (id int); SELECT pg_sleep(30)') })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_TIMEOUT_SECONDS: '2' } })
  assert.equal(r.code, 3)
  assert.equal(r.json.error.code, 'BUDGET_EXHAUSTED')
  assert.deepEqual(await tables(url), ['godwit_migrations'])
})

test('no_connection_settings_exit_2_and_a_password_never_appears', async (t) => {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const none = await godwit(['up', '--sha', 'test', '--json'], { cwd })
  assert.equal(none.code, 2)
  assert.equal(none.json.error.code, 'CONFIG')
  assert.ok(existsSync(path.join(cwd, '.artifacts/deploy/test/migration.json')), 'report written on failure')
  const canary = 'Canary-Pw-4242'
  const url = await freshDatabase(t)
  const u = new URL(url)
  u.password = canary
  for (const args of [['up', '--sha', 'test', '--json'], ['status', '--json'], ['status']]) {
    const r = await godwit(args, { cwd, env: { DATABASE_URL: u.toString() } })
    assert.ok(!r.stdout.includes(canary) && !r.stderr.includes(canary), args.join(' '))
  }
  assert.ok(!readFileSync(path.join(cwd, '.artifacts/deploy/test/migration.json'), 'utf8').includes(canary))
  const refused = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: `postgres://u:${canary}@127.0.0.1:1/db` } })
  assert.equal(refused.code, 7)
  assert.equal(refused.json.error.code, 'CONNECT_FAILED')
  assert.ok(!refused.stdout.includes(canary) && !refused.stderr.includes(canary))
})

test('a_module_that_throws_when_rendered_fails_the_run_before_any_ddl', async (t) => {
  const url = await freshDatabase(t)
  // passes `check` (BOOM unset), throws in the migration job: a module reading its environment
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
    [`${V(2)}_b.mjs`]: "export const up = () => { if (process.env.BOOM) throw new Error('no secret here'); return 'CREATE TABLE b (id int)' }\n",
  })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url, BOOM: '1' } })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID')
  assert.match(r.json.error.message, new RegExp(`${V(2)}_b\\.mjs: .*threw: no secret here.*nothing was run`))
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['pending', 'pending'])
  assert.deepEqual(await tables(url), ['godwit_migrations'], 'the first migration did not run either')
  assert.equal((await query(url, 'SELECT count(*)::int AS n FROM godwit_migrations'))[0].n, 0)
})

test('lock_timeout_retry_applies_once_the_blocker_leaves_within_the_run', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE TABLE busy (id int)')
  const cwd = await project(t, { [`${V(1)}_alter.mjs`]: sql('ALTER TABLE busy ADD COLUMN v text') })
  const blocker = await admin(url)
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE')
  // the blocker leaves during the first backoff (500 ms after a 100 ms lock_timeout): once the run
  // was seen waiting for the lock and then no longer waiting, however long the run took to get
  // there (a fixed delay failed on a loaded machine, where the run reached the lock after it)
  const watcher = await admin(url)
  const waiting = async () =>
    (await watcher.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n > 0
  const until = async (want) => {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
      if ((await waiting()) === want) return
    }
  }
  const leave = (async () => {
    await until(true)
    await until(false)
    await blocker.query('ROLLBACK')
    await Promise.all([blocker.end(), watcher.end()])
  })()
  const r = await godwit(['up', '--sha', 'test', '--json'], {
    cwd,
    env: { DATABASE_URL: url, MIGRATION_LOCK_TIMEOUT: '100ms', MIGRATION_LOCK_RETRIES: '3', MIGRATION_ALLOW_EXISTING_SCHEMA: '1' },
  })
  await leave
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.migrations[0].state, 'applied')
  assert.equal(r.json.migrations[0].attempts, 2)
  const cols = await query(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1")
  assert.deepEqual(cols.map((c) => c.column_name), ['id', 'v'])
})

test('applied_migration_whose_file_is_gone_or_pending_older_than_applied_is_refused', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
    [`${V(3)}_c.mjs`]: sql('CREATE TABLE c (id int)'),
    [`${V(4)}_d.mjs`]: sql('CREATE TABLE d (id int)'),
  })
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  // an applied file in the middle is deleted (and the ledger follows), and an older migration
  // appears (an applied migration newer than every file would be `ahead`: adoption.test.mjs)
  const dir = path.join(cwd, 'db/migrations')
  const { rmSync } = await import('node:fs')
  rmSync(path.join(dir, `${V(3)}_c.mjs`))
  writeFileSync(path.join(dir, `${V(1)}_a.mjs`), sql('CREATE TABLE a (id int)'))
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 4, r.stderr)
  assert.deepEqual(r.json.problems.map((p) => [p.version, p.kind]), [[V(1), 'out-of-order'], [V(3), 'missing-file']])
  assert.ok(r.json.problems.every((p) => p.fix.length > 20))
  assert.ok(!(await tables(url)).includes('a'), 'nothing applied')
  const st = await godwit(['status', '--json'], { cwd, env })
  assert.equal(st.code, 4)
  assert.deepEqual(st.json.migrations.map((m) => [m.version, m.state]), [[V(1), 'out-of-order'], [V(2), 'applied'], [V(3), 'missing-file'], [V(4), 'applied']])
})

test('a_migrations_own_timeouts_apply_to_it_alone_in_both_transaction_modes', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_tx.mjs`]: "export const up = 'SELECT pg_sleep(0.4)'\nexport const config = { statementTimeout: '5s' }\n",
    [`${V(2)}_notx.mjs`]: "export const up = 'SELECT pg_sleep(0.4)'\nexport const config = { transaction: false, statementTimeout: '5s' }\n",
    [`${V(3)}_plain.mjs`]: sql('SELECT pg_sleep(0.4)'),
  })
  // the job's statement_timeout is 150 ms: the first two raise it for themselves only
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_STATEMENT_TIMEOUT: '150ms' } })
  assert.equal(r.code, 5, r.stderr)
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'applied', 'failed'])
  assert.equal(r.json.failure.sqlstate, '57014')
  assert.equal(r.json.settings.statementTimeoutMs, 150)
})

test('files_with_problems_refuse_at_once_even_while_the_lock_is_held_elsewhere', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('SELECT pg_sleep(6)') })
  const env = { DATABASE_URL: url }
  const holder = godwit(['up', '--sha', 'holder'], { cwd, env })
  for (let i = 0; i < 100; i++) {
    const n = (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(6)%' AND pid <> pg_backend_pid() AND datname = current_database()"))[0].n
    if (n > 0) break
    await new Promise((r) => setTimeout(r, 50))
  }
  // the holder has read its files; this run's files disagree with the ledger
  writeFileSync(path.join(cwd, 'db/migrations', `${V(2)}_unsealed.mjs`), sql('CREATE TABLE u (id int)'))
  const t0 = Date.now()
  const r = await godwit(['up', '--sha', 'second', '--json'], { cwd, env: { ...env, MIGRATION_TIMEOUT_SECONDS: '60' } })
  assert.equal(r.code, 4, r.stderr)
  assert.deepEqual(r.json.problems.map((p) => p.kind), ['ledger-missing-entry'])
  assert.ok(Date.now() - t0 < 4000, `refused after ${Date.now() - t0} ms, not after the lock`)
  assert.equal((await holder).code, 0)
})

test('a_history_table_of_another_shape_is_refused_naming_the_way_out', async (t) => {
  const url = await freshDatabase(t)
  // e.g. another tool's, or an earlier development build's table under this name
  await query(url, 'CREATE TABLE godwit_migrations (version text PRIMARY KEY, name text, checksum text, status text, applied_at timestamptz, execution_ms int)')
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 4, r.stderr)
  assert.match(r.json.error.message, /does not have the columns this godwit keeps.*--schema\/--table/)
  assert.deepEqual(await tables(url), ['godwit_migrations'], 'nothing applied')
})

test('a_read_only_database_is_refused_before_the_lock_and_read_only_commands_still_work', async (t) => {
  const url = await freshDatabase(t)
  const db = new URL(url).pathname.slice(1)
  const { url: serverUrl } = await server()
  const setReadOnly = async (on) => {
    const c = await admin(serverUrl)
    await c.query(`ALTER DATABASE "${db}" SET default_transaction_read_only = ${on ? 'on' : 'off'}`)
    await c.end()
  }
  await setReadOnly(true)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const env = { DATABASE_URL: url }
  // before: exit 70 DB_ERROR on creating the history table (or exit 5 blaming a migration)
  const r = await godwit(['up', '--sha', 'ro'], { cwd, env })
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /\[CONFIG\] sessions on postgres:\/\/\S+ are read-only \(transaction_read_only is on.*ALTER ROLE <role> SET default_transaction_read_only = off/)
  assert.equal(report(cwd, 'ro').error.code, 'CONFIG')
  assert.deepEqual(await tables(url), [], 'nothing created')
  // what only reads still works on such a database
  assert.equal((await godwit(['status'], { cwd, env })).code, 1, 'status: one pending')
  const plan = await godwit(['plan'], { cwd, env })
  assert.equal(plan.code, 0, plan.stderr)
  await setReadOnly(false)
  const again = await godwit(['up', '--sha', 'rw'], { cwd, env })
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations'])
})

test('the_first_migration_finds_the_jobs_session_settings_for_the_servers_version', async (t) => {
  // the settings travel with the query that describes the session, before godwit knows the
  // version: the server sets the ones it has (14+, 17+) and skips the others
  const url = await freshDatabase(t)
  const names = ['lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout', 'standard_conforming_strings', 'tcp_keepalives_idle', 'client_connection_check_interval', 'idle_session_timeout', 'transaction_timeout']
  const list = names.map((n) => `'${n}'`).join(', ')
  const cwd = await project(t, {
    [`${V(1)}_seen.mjs`]: sql(`CREATE TABLE seen AS SELECT n AS name, current_setting(n, true) AS value FROM unnest(ARRAY[${list}]) AS n`),
  })
  const env = { DATABASE_URL: url, MIGRATION_LOCK_TIMEOUT: '4321ms', MIGRATION_STATEMENT_TIMEOUT: '7654ms', MIGRATION_TIMEOUT_SECONDS: '1234' }
  const r = await godwit(['up', '--sha', 'set'], { cwd, env })
  assert.equal(r.code, 0, r.stderr)
  const seen = Object.fromEntries((await query(url, 'SELECT name, value FROM seen')).map((row) => [row.name, row.value]))
  // what the server shows for each value set as godwit sets it, or null where it has no such setting
  const expected = await query(url, `SELECT current_setting('server_version_num')::int AS n,
    set_config('lock_timeout', '4321ms', false) AS lock_timeout, set_config('statement_timeout', '7654ms', false) AS statement_timeout,
    set_config('idle_in_transaction_session_timeout', '60000ms', false) AS idle_in_tx, set_config('statement_timeout', '1234000ms', false) AS budget`)
  const { n, lock_timeout: lock, statement_timeout: statement, idle_in_tx: idleInTx, budget } = expected[0]
  assert.deepEqual(seen, {
    lock_timeout: lock,
    statement_timeout: statement,
    idle_in_transaction_session_timeout: idleInTx,
    standard_conforming_strings: 'on',
    tcp_keepalives_idle: '30',
    client_connection_check_interval: n >= 140000 ? '1s' : null,
    idle_session_timeout: n >= 140000 ? budget : null,
    transaction_timeout: n >= 170000 ? budget : null,
  })
})

test('a_server_that_reaps_idle_sessions_does_not_end_the_job_while_a_slow_module_renders', async (t) => {
  const url = await freshDatabase(t)
  const [{ n }] = await query(url, 'SELECT current_setting(\'server_version_num\')::int AS n')
  if (n < 140000) return t.skip('idle_session_timeout exists from PostgreSQL 14')
  const db = new URL(url).pathname.slice(1)
  const { url: serverUrl } = await server()
  const c = await admin(serverUrl)
  await c.query(`ALTER DATABASE "${db}" SET idle_session_timeout = '1s'`)
  await c.end()
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
    // the job's session idles while Node renders this one, longer than the server allows
    [`${V(2)}_slow.mjs`]: "export const up = async () => { await new Promise((r) => setTimeout(r, 2500)); return 'CREATE TABLE slow (id int)' }\n",
  })
  // before: CONNECTION_LOST (exit 7), and every retry the same
  const r = await godwit(['up', '--sha', 'idle'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations', 'slow'])
  assert.deepEqual(report(cwd, 'idle').migrations.map((m) => m.state), ['applied', 'applied'])
})

test('a_transaction_timeout_set_for_applications_does_not_end_a_longer_migration', async (t) => {
  const url = await freshDatabase(t)
  const [{ n }] = await query(url, 'SELECT current_setting(\'server_version_num\')::int AS n')
  if (n < 170000) return t.skip('transaction_timeout exists from PostgreSQL 17')
  const db = new URL(url).pathname.slice(1)
  const { url: serverUrl } = await server()
  const c = await admin(serverUrl)
  await c.query(`ALTER DATABASE "${db}" SET transaction_timeout = '1s'`)
  await c.end()
  const cwd = await project(t, { [`${V(1)}_long.mjs`]: sql('CREATE TABLE long (id int); SELECT pg_sleep(1.5)') })
  // before: the server ended the session under the migration, CONNECTION_LOST on every retry
  const r = await godwit(['up', '--sha', 'tt'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await tables(url), ['godwit_migrations', 'long'])
})
