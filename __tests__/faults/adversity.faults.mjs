// The runner's promises tried the way an attacker or an unlucky operator would (issue 12): a
// server that never answers, a proxy that goes silent, a migration that changes the session or
// drops the lock, a half-built index, a file swapped during the lock wait, a report that cannot
// be written, a role with fewer privileges. Each on a real PostgreSQL.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync, readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { godwit, CLI, cleanEnv } from '../helpers.mjs'
import { project, sql, V, report, tables } from '../project.mjs'
import { freshDatabase, query, admin, server, stopServer } from '../db.mjs'
import { silentServer, proxy } from '../net.mjs'
import { recordFigures } from './lib.mjs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

// Figures for the README's reliability table: cases per class, and how fast signals were answered.
const figures = { classes: {}, slowestSignalMs: 0 }
const held = (cls, n = 1) => (figures.classes[cls] = (figures.classes[cls] ?? 0) + n)
const answered = (ms) => (figures.slowestSignalMs = Math.max(figures.slowestSignalMs, ms))
after(() => recordFigures('adversity', figures))
after(stopServer)

/** `godwit ...args` as a child process; `waitFor(re)` resolves once stderr matches. */
function start(args, { cwd, env }) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) })
  let stdout = ''
  let stderr = ''
  const waiters = []
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => {
    stderr += d
    for (const w of waiters.splice(0)) (w.re.test(stderr) ? w.resolve : (x) => waiters.push(x))(w)
  })
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  // a child that ends before it says `re` fails the wait instead of leaving it pending forever
  const waitFor = (re) =>
    re.test(stderr)
      ? Promise.resolve()
      : Promise.race([
          new Promise((resolve) => waiters.push({ re, resolve })),
          done.then((r) => Promise.reject(new Error(`godwit ended (${r.code}) before printing ${re}: ${r.stderr}`))),
        ])
  return { child, done, waitFor }
}

/** A session of the test's own that holds locks; quiet when the test's database is dropped. */
async function holding(t, url) {
  const c = await admin(url)
  c.on('error', () => {})
  t.after(() => c.end().catch(() => {}))
  return c
}

const silentUrl = (port) => `postgres://u:secret@127.0.0.1:${port}/db`

/** Runs `fn` as an API process would call godwit: cwd at `cwd`, DATABASE_URL `url`; both put back. */
async function inProject(cwd, url, fn) {
  const saved = process.env.DATABASE_URL
  const cwdBefore = process.cwd()
  process.env.DATABASE_URL = url
  process.chdir(cwd)
  try {
    return await fn(require('../../index.js'))
  } finally {
    process.chdir(cwdBefore)
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  }
}
const ms = (t0) => Date.now() - t0

// -- 1. Nothing waits without bound -------------------------------------------------------------

test('a_server_that_never_answers_bounds_up_status_and_assert_schema_current', async (t) => {
  const port = await silentServer(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  let t0 = Date.now()
  const up = await godwit(['up', '--sha', 'silent', '--json'], { cwd, env: { DATABASE_URL: silentUrl(port) } })
  assert.equal(up.code, 7, up.stderr)
  assert.ok(ms(t0) < 15_000, `up took ${ms(t0)} ms`)
  assert.equal(up.json.error.code, 'CONNECT_FAILED')
  assert.match(up.json.error.message, /no answer within 10 s/)
  assert.equal(report(cwd, 'silent').outcome, 'error')
  t0 = Date.now()
  const st = await godwit(['status'], { cwd, env: { DATABASE_URL: silentUrl(port), MIGRATION_STATUS_TIMEOUT: '1s' } })
  assert.equal(st.code, 7, st.stderr)
  assert.ok(ms(t0) < 5000, `status took ${ms(t0)} ms`)
  // in-process, as an API calls it at start-up
  await inProject(cwd, silentUrl(port), async (api) => {
    t0 = Date.now()
    await assert.rejects(api.assertSchemaCurrent({ timeout: '800ms' }), { code: 'CONNECT_FAILED' })
    assert.ok(ms(t0) < 4000, `assertSchemaCurrent took ${ms(t0)} ms`)
  })
  for (const out of [up.stdout, up.stderr, st.stdout, st.stderr]) assert.ok(!out.includes('secret'))
  held('bounded', 3)
})

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal.toLowerCase()}_while_the_server_never_answers_exits_6_at_once_with_a_report`, async (t) => {
    const port = await silentServer(t)
    const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
    const run = start(['up', '--sha', 'sig'], { cwd, env: { DATABASE_URL: silentUrl(port) } })
    await new Promise((r) => setTimeout(r, 700))
    const t0 = Date.now()
    run.child.kill(signal)
    const r = await run.done
    assert.equal(r.code, 6, r.stderr)
    answered(ms(t0))
    assert.ok(ms(t0) < 1500, `answered ${signal} after ${ms(t0)} ms`)
    const rep = report(cwd, 'sig')
    assert.equal(rep.outcome, 'interrupted')
    assert.match(rep.error.message, /while connecting/)
    held('bounded')
  })
}

test('a_proxy_that_goes_silent_mid_run_is_bounded_by_the_budget_and_answers_sigterm', async (t) => {
  const url = await freshDatabase(t)
  const files = {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
    [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int); SELECT pg_sleep(2)'),
  }
  // the budget: the silent network holds nothing past MIGRATION_TIMEOUT_SECONDS
  {
    const p = await proxy(t, url)
    const cwd = await project(t, files)
    const t0 = Date.now()
    const run = start(['up', '--sha', 'budget'], { cwd, env: { DATABASE_URL: p.url, MIGRATION_TIMEOUT_SECONDS: '6' } })
    await run.waitFor(new RegExp(`applying ${V(2)}_b`))
    p.silence()
    const r = await run.done
    assert.equal(r.code, 3, r.stderr)
    // the cleanup after the stop (cancel, learning the outcome, the report) fits in the budget too
    assert.ok(ms(t0) < 6000 + 1000, `the whole run took ${ms(t0)} ms of a 6 s budget`)
    const rep = report(cwd, 'budget')
    assert.equal(rep.outcome, 'budget-exhausted')
    assert.ok(['unknown', 'cancelled', 'applied'].includes(rep.migrations[1].state), rep.migrations[1].state)
  }
  // a signal: answered within seconds, the report written
  {
    const db2 = await freshDatabase(t)
    const p = await proxy(t, db2)
    const cwd = await project(t, files)
    const run = start(['up', '--sha', 'term'], { cwd, env: { DATABASE_URL: p.url } })
    await run.waitFor(new RegExp(`applying ${V(2)}_b`))
    p.silence()
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    run.child.kill('SIGTERM')
    const r = await run.done
    assert.equal(r.code, 6, r.stderr)
    answered(ms(t0))
    assert.ok(ms(t0) < 2500, `answered SIGTERM after ${ms(t0)} ms`)
    assert.equal(report(cwd, 'term').outcome, 'interrupted')
  }
  held('bounded', 2)
})

test('status_and_assert_schema_current_do_not_wait_for_a_locked_history_table', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  assert.equal((await godwit(['up', '--sha', 'x'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const holder = await holding(t, url)
  await holder.query('BEGIN')
  await holder.query('LOCK TABLE godwit_migrations IN ACCESS EXCLUSIVE MODE')
  const t0 = Date.now()
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_STATUS_TIMEOUT: '1s' } })
  assert.equal(st.code, 3, st.stderr)
  assert.ok(ms(t0) < 5000, `status took ${ms(t0)} ms`)
  assert.equal(st.json.error.code, 'LOCK_NOT_ACQUIRED')
  assert.match(st.json.error.message, /lock/i)
  await holder.query('ROLLBACK')
  held('bounded', 1)
})

test('status_assert_schema_current_and_up_are_bounded_by_a_server_that_starts_sessions_but_runs_no_query', async (t) => {
  // a pooler with no free server connection, or a server stuck after authentication: start-up
  // completes, the first queries are never answered
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  assert.equal((await godwit(['up', '--sha', 'x'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const p = await proxy(t, url, { silentOnQuery: true })
  const mute = new URL(p.url)
  mute.searchParams.set('sslmode', 'disable')
  let t0 = Date.now()
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: mute.toString(), MIGRATION_STATUS_TIMEOUT: '1s' } })
  assert.equal(st.code, 7, st.stderr)
  assert.ok(ms(t0) < 5000, `status took ${ms(t0)} ms`)
  assert.equal(st.json.error.code, 'CONNECTION_LOST')
  assert.match(st.json.error.message, /no answer within 1000 ms \(MIGRATION_STATUS_TIMEOUT\) to the session's first queries/)
  assert.doesNotMatch(st.json.error.message, /locked/)
  await inProject(cwd, mute.toString(), async (api) => {
    t0 = Date.now()
    await assert.rejects(api.assertSchemaCurrent({ timeout: '800ms' }), { code: 'CONNECTION_LOST' })
    assert.ok(ms(t0) < 4000, `assertSchemaCurrent took ${ms(t0)} ms`)
  })
  // `up` sends its settings with the query that describes the session: that round trip is
  // bounded as start-up is (10 s), and said as what it is, not as a server that never started
  t0 = Date.now()
  const up = await godwit(['up', '--sha', 'mute', '--json'], { cwd, env: { DATABASE_URL: mute.toString() } })
  assert.equal(up.code, 7, up.stderr)
  assert.ok(ms(t0) < 15_000, `up took ${ms(t0)} ms`)
  assert.equal(up.json.error.code, 'CONNECTION_LOST')
  assert.match(up.json.error.message, /no answer within 10 s to the session's first queries .*accepted the connection but is not running queries/)
  assert.doesNotMatch(up.json.error.message, /start-up .*did not complete/)
  assert.equal(report(cwd, 'mute').outcome, 'connection-lost')
  held('bounded', 3)
})

test('absurd_durations_are_usage_errors_with_a_report_never_an_abort', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const cases = [
    [{ MIGRATION_TIMEOUT_SECONDS: '18446744073709551615' }, [], /MIGRATION_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 2592000/],
    [{ MIGRATION_TIMEOUT_SECONDS: '99999999999999999999999' }, [], /MIGRATION_TIMEOUT_SECONDS/],
    [{ MIGRATION_LOCK_TIMEOUT: '9999999999999999d' }, [], /longer than PostgreSQL allows/],
    [{ MIGRATION_STATEMENT_TIMEOUT: '1e400' }, [], /MIGRATION_STATEMENT_TIMEOUT/],
    [{}, ['--module-timeout', '99999999999999999999'], /--module-timeout/],
    [{ MIGRATION_LOCK_RETRIES: '4294967296' }, [], /MIGRATION_LOCK_RETRIES/],
  ]
  for (const [env, args, message] of cases) {
    const r = await godwit(['up', '--sha', 'absurd', '--json', ...args], { cwd, env: { DATABASE_URL: url, ...env } })
    assert.equal(r.code, 2, `${JSON.stringify(env)} ${args}: ${r.stderr}`)
    assert.equal(r.json.error.code, 'CONFIG')
    assert.match(r.json.error.message, message)
    assert.equal(report(cwd, 'absurd').error.code, 'CONFIG')
  }
  const st = await godwit(['status'], { cwd, env: { DATABASE_URL: url, MIGRATION_STATUS_TIMEOUT: '99999999999d' } })
  assert.equal(st.code, 2, st.stderr)
  assert.deepEqual(await tables(url), [], 'nothing ran')
  held('bounded', 7)
})

// -- 2. One migration cannot change the rules for the next --------------------------------------

const waived = (up) => `export const up = ${JSON.stringify(up)}\nexport const config = { ignore: { 'session-state': 'the runner must undo this' } }\n`
const probe = (n) => sql(`CREATE TABLE probe_${n} AS SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st, current_user::text AS u, current_setting('search_path') AS sp, current_setting('standard_conforming_strings') AS scs`)

test('every_migration_starts_from_the_jobs_session_state', async (t) => {
  const url = await freshDatabase(t)
  const other = `godwit_other_${Math.random().toString(36).slice(2, 8)}`
  await role(t, url, other, [])
  await query(url, `GRANT CREATE ON SCHEMA public TO ${other}`)
  const changers = [
    'RESET ALL',
    'SET statement_timeout = 0; SET lock_timeout = 0',
    `SET ROLE ${other}`,
    'CREATE SCHEMA elsewhere; SET search_path = elsewhere',
    'SET standard_conforming_strings = off',
    "SELECT set_config('statement_timeout', '1', false)",
  ]
  const files = {}
  changers.forEach((c, i) => {
    files[`${V(2 * i + 1)}_change_${i}.mjs`] = waived(c)
    files[`${V(2 * i + 2)}_probe_${i}.mjs`] = probe(i)
  })
  const cwd = await project(t, files)
  const r = await godwit(['up', '--sha', 'state', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_LOCK_TIMEOUT: '4s', MIGRATION_STATEMENT_TIMEOUT: '7min' } })
  assert.equal(r.code, 0, r.stderr)
  const me = (await query(url, 'SELECT session_user::text AS u'))[0].u
  for (let i = 0; i < changers.length; i++) {
    const [row] = await query(url, `SELECT * FROM public.probe_${i}`)
    assert.deepEqual(row, { lt: '4s', st: '7min', u: me, sp: '"$user", public', scs: 'on' }, `after: ${changers[i]}`)
  }
  // and every history row was written as the job's role
  const by = await query(url, 'SELECT DISTINCT applied_by FROM godwit_migrations')
  assert.deepEqual(by, [{ applied_by: me }])
  held('session', 6)
})

test('a_migration_that_releases_the_migration_lock_stops_the_run_fail_closed', async (t) => {
  // inside a transaction: the lock check before the history row rolls it back
  {
    const url = await freshDatabase(t)
    const cwd = await project(t, {
      [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
      [`${V(2)}_unlock.mjs`]: waived('CREATE TABLE unlocked (id int); SELECT pg_advisory_unlock_all()'),
      [`${V(3)}_c.mjs`]: sql('CREATE TABLE c (id int)'),
    })
    const r = await godwit(['up', '--sha', 'u', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 3, r.stderr)
    assert.equal(r.json.error.code, 'LOCK_LOST')
    assert.equal(r.json.outcome, 'lock-lost')
    assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'cancelled', 'pending'])
    assert.deepEqual(await tables(url), ['a', 'godwit_migrations'], 'rolled back, and nothing after it ran')
  }
  // outside a transaction: DISCARD ALL ran (and is recorded), the run stops before the next
  {
    const url = await freshDatabase(t)
    const cwd = await project(t, {
      [`${V(1)}_discard.mjs`]: `${waived('DISCARD ALL').trim()}\n`.replace("{ ignore:", "{ transaction: false, ignore:"),
      [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
    })
    const r = await godwit(['up', '--sha', 'd', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 3, r.stderr)
    assert.equal(r.json.error.code, 'LOCK_LOST')
    assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'pending'])
    assert.deepEqual(await tables(url), ['godwit_migrations'])
  }
  held('session', 2)
})

test('the_lock_is_held_twice_so_a_migration_that_releases_it_once_leaves_it_held_and_twice_stops_the_run', async (t) => {
  const KEY = '2873364230597916043' // the lock key of public.godwit_migrations (pinned in history.rs)
  const stillHeld = `SELECT (CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND ((classid::bigint << 32) | objid::bigint) = ${KEY}) THEN '1' ELSE 'the migration lock was released' END)::int`
  // once: still held while the rest of the migration runs (before, with the lock taken once, it
  // was released there, and a second runner could have started), and the run goes on
  {
    const url = await freshDatabase(t)
    const cwd = await project(t, {
      [`${V(1)}_once.mjs`]: waived(`SELECT pg_advisory_unlock(${KEY}); ${stillHeld}; CREATE TABLE once (id int)`),
      [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
    })
    const r = await godwit(['up', '--sha', 'once', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'applied'])
    assert.deepEqual(await tables(url), ['b', 'godwit_migrations', 'once'])
  }
  // twice: released, so the check after its SQL rolls it back and stops the run
  {
    const url = await freshDatabase(t)
    const cwd = await project(t, {
      [`${V(1)}_twice.mjs`]: waived(`CREATE TABLE twice (id int); SELECT pg_advisory_unlock(${KEY}), pg_advisory_unlock(${KEY})`),
      [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
    })
    const r = await godwit(['up', '--sha', 'twice', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.equal(r.json.error.code, 'LOCK_LOST')
    assert.deepEqual(r.json.migrations.map((m) => m.state), ['cancelled', 'pending'])
    assert.deepEqual(await tables(url), ['godwit_migrations'])
  }
  held('session', 2)
})

test('godwits_history_write_is_immune_to_a_migrations_string_settings', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE TABLE victim (id int)')
  // the failure's message echoes a value with a quote and a backslash
  const evil = "SELECT 'it''s \\'' ); DROP TABLE victim; --'::int"
  const cwd = await project(t, {
    [`${V(1)}_scs.mjs`]: waived('SET standard_conforming_strings = off'),
    [`${V(2)}_evil.mjs`]: `export const up = ${JSON.stringify(evil)}\nexport const config = { transaction: false }\n`,
  })
  const r = await godwit(['up', '--sha', 'e', '--json', '--allow-existing-schema'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 5, r.stderr)
  assert.deepEqual(await query(url, "SELECT count(*)::int AS n FROM victim"), [{ n: 0 }], 'victim is still there')
  const [row] = await query(url, `SELECT status, error FROM godwit_migrations WHERE version = '${V(2)}'`)
  assert.equal(row.status, 'failed')
  assert.equal(row.error, "invalid input syntax for type integer: \"it's \\' ); DROP TABLE victim; --\"")
  held('session', 1)
})

// -- 3. What is recorded is what happened ---------------------------------------------------------

test('an_index_left_invalid_by_an_interrupted_build_is_never_recorded_applied', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1)')
  // what an interrupted (or failed) concurrent build leaves: an INVALID index by that name
  await query(url, 'CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)').catch(() => {})
  assert.deepEqual(await query(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a_key'::regclass"), [{ indisvalid: false }])
  const cwd = await project(t, {
    [`${V(1)}_idx.mjs`]: "export const up = 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_a_key ON t (a)'\nexport const config = { transaction: false }\n",
  })
  const r = await godwit(['up', '--sha', 'i', '--json', '--allow-existing-schema'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 5, r.stderr)
  assert.match(r.json.error.message, /t_a_key is INVALID/)
  assert.match(r.json.error.message, /DROP INDEX CONCURRENTLY/)
  assert.deepEqual(await query(url, 'SELECT status FROM godwit_migrations'), [{ status: 'failed' }])
  const st = await godwit(['status'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(st.code, 4)
  held('recorded', 1)
})

test('a_failed_non_transactional_down_is_recorded_failed_never_reverted', async (t) => {
  const url = await freshDatabase(t)
  await query(url, 'CREATE TABLE t (a int)')
  const cwd = await project(t, {
    [`${V(1)}_idx.mjs`]: "export const up = 'CREATE INDEX CONCURRENTLY t_a ON t (a)'\nexport const down = 'DROP INDEX CONCURRENTLY t_a_missing'\nexport const config = { transaction: false }\n",
  })
  assert.equal((await godwit(['up', '--sha', 'x', '--allow-existing-schema'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const d = await godwit(['down', '--sha', 'x', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(d.code, 5, d.stderr)
  assert.deepEqual(await query(url, 'SELECT status FROM godwit_migrations'), [{ status: 'failed' }])
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(st.code, 4)
  assert.equal(st.json.migrations[0].state, 'failed')
  held('recorded', 1)
})

test('a_file_swapped_while_up_waits_for_the_lock_is_not_what_runs', async (t) => {
  const url = await freshDatabase(t)
  const literal = `${V(1)}_lit.mjs`
  const imported = `${V(2)}_fn.mjs`
  const cwd = await project(t, {
    [literal]: sql('CREATE TABLE sealed_literal (id int)'),
    [imported]: "export const up = () => 'CREATE TABLE sealed_imported (id int)'\n",
  })
  const holder = await holding(t, url)
  await holder.query('SELECT pg_advisory_lock(2873364230597916043)')
  const run = start(['up', '--sha', 'swap'], { cwd, env: { DATABASE_URL: url } })
  await run.waitFor(/waiting for the migration lock/)
  const dir = path.join(cwd, 'db', 'migrations')
  writeFileSync(path.join(dir, literal), sql('CREATE TABLE swapped_literal (id int)'))
  writeFileSync(path.join(dir, imported), "export const up = () => 'CREATE TABLE swapped_imported (id int)'\n")
  await holder.query('SELECT pg_advisory_unlock(2873364230597916043)')
  const r = await run.done
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await tables(url), ['godwit_migrations', 'sealed_imported', 'sealed_literal'])
  held('recorded', 1)
})

test('when_the_report_cannot_be_written_the_output_still_says_what_was_applied', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  writeFileSync(path.join(cwd, 'not-a-folder'), 'x')
  const r = await godwit(['up', '--sha', 'r', '--artifacts-dir', 'not-a-folder'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 70, r.stderr)
  assert.match(r.stderr, /REPORT_NOT_WRITTEN/)
  assert.match(r.stderr, new RegExp(`applied ${V(1)}_a\\.mjs`))
  assert.match(r.stderr, /up: applied 1 migration/)
  assert.equal(JSON.parse(r.stdout).migrations[0].state, 'applied', 'the report is printed instead')
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations'])
  held('recorded', 1)
})

test('a_full_disk_under_the_reports_leaves_the_run_applied_said_and_no_temporary_file', async (t) => {
  // a real full file system: a 16 KiB tmpfs, filled (needs the right to mount, as root here)
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'godwit-full-'))
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', mnt]).status !== 0) {
    rmSync(mnt, { recursive: true, force: true })
    return t.skip('cannot mount a tmpfs here')
  }
  t.after(() => {
    spawnSync('umount', [mnt])
    rmSync(mnt, { recursive: true, force: true })
  })
  spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'fill')}`, 'bs=1k', 'count=16'])
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'full', '--artifacts-dir', path.join(mnt, 'deploy')], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 70, r.stderr)
  assert.match(r.stderr, /REPORT_NOT_WRITTEN\] the report could not be written: \S+\.json: No space left on device/, 'names the report, not a temporary file')
  assert.equal(JSON.parse(r.stdout).migrations[0].state, 'applied', 'the report is printed instead')
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations'])
  // before, the failed write left its temporary file (empty) beside where the report belongs
  const left = readdirSync(mnt, { recursive: true }).filter((f) => f.endsWith('.tmp'))
  assert.deepEqual(left, [], 'no temporary file left on the full disk')
  held('recorded', 1)
})

test('every_attempt_on_one_sha_keeps_its_report', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  for (let i = 0; i < 2; i++) assert.equal((await godwit(['up', '--sha', 'same'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  assert.equal(report(cwd, 'same').outcome, 'nothing-to-do', 'migration.json is the latest')
  const dir = path.join(cwd, '.artifacts', 'deploy', 'same', 'attempts')
  const outcomes = readdirSync(dir).sort().map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')).outcome)
  assert.deepEqual(outcomes, ['applied', 'nothing-to-do'])
  held('deployment', 1)
})

test('up_failures_point_at_the_line_of_the_migration_file', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: '// a header\n// another line\nexport const up = `\nCREATE TABLE a (id int);\nINSERT INTO nope VALUES (1);\n`\n',
  })
  const r = await godwit(['up', '--sha', 'l', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 5)
  assert.equal(r.json.failure.line, 5, 'line 5 of the file')
  assert.equal(r.json.failure.sqlLine, 3, 'line 3 of the rendered SQL')
  assert.match(r.json.error.message, new RegExp(`at line 5 of ${V(1)}_a\\.mjs`))
  held('deployment', 1)
})

// -- 4. Least privilege and real server setups -----------------------------------------------------

async function role(t, url, name, grants) {
  const a = await admin(url)
  try {
    await a.query(`DROP ROLE IF EXISTS ${name}`).catch(() => {})
    await a.query(`CREATE ROLE ${name} LOGIN PASSWORD 'pw'`)
    for (const g of grants) await a.query(g)
  } finally {
    await a.end()
  }
  t.after(async () => {
    // whichever runs first, this or the database's drop: objects and grants, then the role
    await query(url, `DROP OWNED BY ${name}`).catch(() => {})
    await query((await server()).url, `DROP ROLE IF EXISTS ${name}`)
  })
  const u = new URL(url)
  u.username = name
  u.password = 'pw'
  return u.toString()
}

test('an_application_role_with_create_on_public_only_migrates_and_a_lesser_one_is_told_the_grant', async (t) => {
  const url = await freshDatabase(t)
  const db = new URL(url).pathname.slice(1)
  const suffix = Math.random().toString(36).slice(2, 8)
  // as on PostgreSQL 15+: nobody may create in public unless granted
  await query(url, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC')
  const app = await role(t, url, `godwit_app_${suffix}`, [`GRANT CONNECT ON DATABASE "${db}" TO godwit_app_${suffix}`])
  await query(url, `GRANT CREATE, USAGE ON SCHEMA public TO godwit_app_${suffix}`)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const ok = await godwit(['up', '--sha', 'app', '--json'], { cwd, env: { DATABASE_URL: app } })
  assert.equal(ok.code, 0, ok.stderr)
  await role(t, url, `godwit_reader_${suffix}`, [])
  const fresh = await freshDatabase(t)
  await query(fresh, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC')
  const readerFresh = new URL(fresh)
  readerFresh.username = `godwit_reader_${suffix}`
  readerFresh.password = 'pw'
  const denied = await godwit(['up', '--sha', 'reader', '--json'], { cwd, env: { DATABASE_URL: readerFresh.toString() } })
  assert.equal(denied.code, 2, denied.stderr)
  assert.equal(denied.json.error.code, 'INSUFFICIENT_PRIVILEGE')
  assert.match(denied.json.error.message, new RegExp(`GRANT CREATE ON SCHEMA "public" TO "godwit_reader_${suffix}"`))
  const noSchema = await godwit(['up', '--sha', 'reader', '--json', '--schema', 'ops'], { cwd, env: { DATABASE_URL: readerFresh.toString() } })
  assert.equal(noSchema.code, 2, noSchema.stderr)
  assert.match(noSchema.json.error.message, /CREATE SCHEMA "ops" AUTHORIZATION/)
  held('privilege', 2)
})

test('a_history_table_name_postgres_would_cut_is_refused', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'n', '--json', '--table', 'h'.repeat(51)], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.json.error.message, /at most 50/)
  assert.deepEqual(await tables(url), [])
  held('privilege', 1)
})

test('a_locked_history_table_is_a_lock_problem_and_a_terminated_lock_wait_a_lost_connection', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  assert.equal((await godwit(['up', '--sha', 'x'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const holder = await holding(t, url)
  await holder.query('BEGIN')
  await holder.query('LOCK TABLE godwit_migrations IN ACCESS EXCLUSIVE MODE')
  const locked = await godwit(['up', '--sha', 'locked', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_LOCK_TIMEOUT: '1s' } })
  assert.equal(locked.code, 3, locked.stderr)
  assert.equal(locked.json.error.code, 'LOCK_NOT_ACQUIRED')
  await holder.query('ROLLBACK')
  // the backend ended while it waits for the migration lock
  await holder.query('SELECT pg_advisory_lock(2873364230597916043)')
  const run = start(['up', '--sha', 'ended'], { cwd, env: { DATABASE_URL: url } })
  await run.waitFor(/waiting for the migration lock/)
  await holder.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'godwit' AND pid <> pg_backend_pid() AND datname = current_database()")
  const r = await run.done
  assert.equal(r.code, 7, r.stderr)
  assert.equal(report(cwd, 'ended').error.code, 'CONNECTION_LOST')
  held('privilege', 2)
})

test('copy_through_the_client_is_refused_before_anything_runs', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(2)}_copy.mjs`), sql('CREATE TABLE c (id int); COPY c FROM STDIN'))
  // a local check reports it (and seals the file, as it seals every new one)
  const c = await godwit(['check', '--json'], { cwd })
  assert.equal(c.code, 1)
  assert.ok(c.json.violations.some((v) => v.rule === 'copy-stdio'), JSON.stringify(c.json.violations))
  const r = await godwit(['up', '--sha', 'c', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID', 'refused as a migration problem, never as a lost connection')
  assert.equal(r.json.outcome, 'refused')
  assert.match(r.json.error.message, /copy-stdio.*nothing was run/)
  assert.deepEqual(await tables(url), ['godwit_migrations'], 'no migration ran')
  held('privilege', 1)
})

// -- 5. Secrets and the local-only guard ------------------------------------------------------------

test('a_raw_at_sign_in_the_url_password_is_refused_and_no_part_of_it_is_printed', async (t) => {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const url = 'postgres://u:Cx9@Secret@127.0.0.1:1/db'
  for (const args of [['up', '--sha', 'at', '--json'], ['status', '--json']]) {
    const r = await godwit(args, { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stdout + r.stderr, /percent-encode an `@`.*%40/)
    for (const piece of ['Cx9', 'Secret']) assert.ok(!(r.stdout + r.stderr).includes(piece), `${args[0]} printed ${piece}`)
  }
  assert.ok(!readFileSync(path.join(cwd, '.artifacts', 'deploy', 'at', 'migration.json'), 'utf8').includes('Secret'))
  held('secrets')
})

test('the_local_only_guard_looks_at_hostaddr_too', async (t) => {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  // refused before any connection: the address is never contacted
  const url = 'postgres://postgres@localhost:5432/db?hostaddr=192.0.2.10'
  for (const cmd of ['down', 'reset']) {
    const r = await godwit([cmd, '--sha', 'h', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.json.error.message, /is not a local server/)
  }
  held('secrets', 2)
})
