// Output levels: --quiet and --verbose, and a long migration that says it is still running.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, existsSync, openSync, closeSync } from 'node:fs'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { godwit, CLI, cleanEnv } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { project, V, report, tables } from './project.mjs'

after(stopServer)

test('up_verbose_shows_settings_lock_and_sql_size_never_sql_and_a_long_migration_reports_elapsed_time', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_slow.mjs`]: "export const up = ['CREATE TABLE slow (id bigint)', 'SELECT pg_sleep(5.6)']\n",
  })
  const r = await godwit(['up', '--verbose', '--sha', 'v'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  const password = new URL(url).password
  if (password) assert.ok(!r.stderr.includes(`:${password}@`), 'the password never appears')
  assert.match(r.stderr, /connected to postgres:\/\/\w+@(127\.0\.0\.1|localhost):\d+\/\S+ \(PostgreSQL \d+.*lock_timeout 5000 ms, statement_timeout 900000 ms, budget 1800 s, 3 lock retries, history "public"\."godwit_migrations"/)
  assert.match(r.stderr, /migration lock -?\d+ taken after \d+ ms/)
  assert.match(r.stderr, /2 string\(s\), \d+ bytes of SQL, sha256 [0-9a-f]{12}$/m)
  // SQL may carry a secret rendered from the environment: sizes and checksums only
  assert.ok(!r.stderr.includes('CREATE TABLE slow'), r.stderr)
  assert.match(r.stderr, new RegExp(`still applying ${V(1)}_slow\\.mjs: 5 s elapsed`))
})

test('quiet_prints_no_progress_and_quiet_with_verbose_is_a_usage_error', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id bigint)'\n" })
  const q = await godwit(['up', '-q', '--sha', 'q'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(q.code, 0, q.stderr)
  assert.doesNotMatch(q.stderr, /godwit: applying/)
  const plain = await godwit(['up', '--sha', 'p'], { cwd, env: { DATABASE_URL: url } })
  assert.doesNotMatch(plain.stderr, /connected to|migration lock .* taken/, 'settings lines only with --verbose')
  for (const command of ['up', 'check', 'down', 'reset', 'verify']) {
    const r = await godwit([command, '--quiet', '--verbose'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 2, command)
    assert.match(r.stderr, /--quiet and --verbose contradict each other/)
  }
})

test('check_verbose_lists_each_migration_and_quiet_only_the_findings', async (t) => {
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id bigint)'\nexport const down = 'DROP TABLE a'\n",
    [`${V(2)}_idx.mjs`]: "export const up = 'CREATE INDEX CONCURRENTLY a_id ON a (id)'\nexport const config = { transaction: false, lockTimeout: '3s' }\n",
  })
  const v = await godwit(['check', '--verbose'], { cwd })
  assert.equal(v.code, 0, v.stderr)
  assert.match(v.stderr, /check: base none \(noCommits\); policy: PostgreSQL 16, destructive require-declaration/)
  assert.match(v.stderr, new RegExp(`${V(1)}_a\\.mjs: 1 up statement, 1 down, transactional; sha256 [0-9a-f]{12}`))
  assert.match(v.stderr, new RegExp(`${V(2)}_idx\\.mjs: 1 up statement, no down, no transaction, lock_timeout 3000 ms; sha256`))
  const q = await godwit(['check', '-q'], { cwd })
  assert.equal(q.code, 0)
  assert.equal(q.stderr, '', 'no summary line')
  assert.equal(q.stdout, '', 'errors only: the warning is not printed')
  const loud = await godwit(['check'], { cwd })
  assert.deepEqual(loud.stdout.trim().split('\n').map((l) => l.split(': ')[1]), ['prefer-robust-stmts (warning)'], 'without -q the warning is listed')
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(3)}_bad.mjs`), "export const up = 'CREATE INDEX a_blocking ON a (id)'\n")
  const qe = await godwit(['check', '-q'], { cwd })
  assert.equal(qe.code, 1)
  assert.deepEqual(qe.stdout.trim().split('\n').map((l) => l.split(': ')[1]), ['require-concurrent-index-creation'], 'the error, nothing else')
})

/**
 * Runs the CLI with `close` ('stdout' or 'stderr') read until its first bytes and then closed,
 * as `| head -1` does; resolves to {code, signal, other} (the other stream's text).
 */
function withReaderGone(args, { cwd, env, close }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) })
    const keep = close === 'stdout' ? child.stderr : child.stdout
    let other = ''
    keep.on('data', (d) => (other += d))
    child[close].once('data', () => child[close].destroy())
    child.on('close', (code, signal) => resolve({ code, signal, other }))
  })
}

test('a_reader_that_goes_away_mid_run_neither_stops_the_run_nor_hides_its_outcome', async (t) => {
  const url = await freshDatabase(t)
  // the first progress line is read, then the pipe is closed; the sleep keeps the run going
  // past that, so the next lines are written to a closed pipe
  const migrations = { [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id bigint)'\n" }
  migrations[`${V(2)}_slow.mjs`] = "export const up = ['CREATE TABLE slow (id bigint)', 'SELECT pg_sleep(0.5)']\n"
  for (let i = 3; i <= 6; i++) migrations[`${V(i)}_t${i}.mjs`] = `export const up = 'CREATE TABLE t${i} (id bigint)'\n`
  const cwd = await project(t, migrations)
  const r = await withReaderGone(['up', '--verbose', '--sha', 'test'], { cwd, env: { DATABASE_URL: url }, close: 'stderr' })
  assert.equal(r.signal, null)
  assert.equal(r.code, 0, 'the run finished: a progress line that cannot be written is dropped')
  const doc = report(cwd)
  assert.equal(doc.outcome, 'applied')
  assert.deepEqual(doc.migrations.map((m) => m.state), Array(6).fill('applied'))
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations', 'slow', 't3', 't4', 't5', 't6'])

  // stdout closed after the first bytes of `--json`: the rest is dropped, the exit code stands
  const again = await withReaderGone(['up', '--json', '--sha', 'again'], { cwd, env: { DATABASE_URL: url }, close: 'stdout' })
  assert.equal(again.signal, null)
  assert.equal(again.code, 0, again.other)
  assert.doesNotMatch(again.other, /EPIPE|Unhandled/, 'no stack trace for a reader that left')
  assert.equal(report(cwd, 'again').outcome, 'nothing-to-do')
})

/** The CLI with one of its streams on a full disk (`/dev/full`: every write fails with ENOSPC). */
function withFullDisk(args, { cwd, env, full }, t) {
  const fd = openSync('/dev/full', 'w')
  t.after(() => closeSync(fd))
  const stdio = full === 'stdout' ? ['ignore', fd, 'pipe'] : ['ignore', 'pipe', fd]
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env), stdio, encoding: 'utf8' })
  return { code: r.status, signal: r.signal, other: (full === 'stdout' ? r.stderr : r.stdout) ?? '' }
}

test('output_that_cannot_be_written_never_stops_a_run_and_is_not_passed_off_as_success', { skip: !existsSync('/dev/full') && 'no /dev/full here' }, async (t) => {
  // a module that logs while it is imported writes through the CLI's own streams, mid-run
  const migrations = {
    [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id bigint)'\n",
    [`${V(2)}_chatty.mjs`]: "console.log('a note on stdout')\nconsole.error('a note on stderr')\nexport const up = 'CREATE TABLE chatty (id bigint)'\n",
    [`${V(3)}_c.mjs`]: "export const up = 'CREATE TABLE c (id bigint)'\n",
  }
  const cwd = await project(t, migrations)
  const all = ['a', 'c', 'chatty', 'godwit_migrations']

  // stderr on a full disk: every progress line and the module's note fail. Before, the first
  // failed write threw: the process died with nothing applied and no report at all.
  const first = await freshDatabase(t)
  const r = withFullDisk(['up', '--verbose', '--sha', 'errfull'], { cwd, env: { DATABASE_URL: first }, full: 'stderr' }, t)
  assert.equal(r.signal, null)
  assert.equal(r.code, 70, 'the run applied, but its log is lost: not a plain success')
  assert.equal(report(cwd, 'errfull').outcome, 'applied')
  assert.deepEqual(report(cwd, 'errfull').migrations.map((m) => m.state), ['applied', 'applied', 'applied'])
  assert.deepEqual((await tables(first)).sort(), all)

  // stdout on a full disk: the run finishes; stderr says what was lost, without a stack trace
  const second = await freshDatabase(t)
  const pending = withFullDisk(['status', '--json'], { cwd, env: { DATABASE_URL: second }, full: 'stdout' }, t)
  assert.equal(pending.code, 1, 'a command that did not succeed keeps its own exit code')
  assert.match(pending.other, /\[IO\] writing to stdout failed \(ENOSPC\).*finished with exit code 1/)
  const up = withFullDisk(['up', '--json', '--sha', 'outfull'], { cwd, env: { DATABASE_URL: second }, full: 'stdout' }, t)
  assert.equal(up.signal, null)
  assert.equal(up.code, 70, up.other)
  assert.match(up.other, /\[IO\] writing to stdout failed \(ENOSPC\); what was left to print is lost\. The command itself finished;/)
  assert.doesNotMatch(up.other, /^\s+at |Uncaught|Node\.js v/m, 'no stack trace')
  assert.equal(report(cwd, 'outfull').outcome, 'applied')
  assert.deepEqual((await tables(second)).sort(), all)
})
