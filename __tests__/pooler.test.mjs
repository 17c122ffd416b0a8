// The migration job through a pooler in transaction mode (a real PgBouncer in front of the test
// server): its statements may run on another client's server session, where the migration lock
// is not the job's. `up` refuses there before taking the lock, naming the way out; `status` and
// `assertSchemaCurrent()` (no lock, read-only) still work through it. A pooler that kept the job on
// one server session until the lock was taken and moves it afterwards stops the run before the
// next migration's SQL runs anywhere else, and a baseline before it records anything.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync, chmodSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { godwit, tmpDir } from './helpers.mjs'
import { project, sourceProject, sql, V, tables, report } from './project.mjs'
import { freshDatabase, admin, stopServer, query } from './db.mjs'
import { unusedPort } from './net.mjs'

after(stopServer)

const KEY = '2873364230597916043' // the lock key of public.godwit_migrations (pinned in history.rs)

/** PgBouncer's binary, or null. CI installs it (.ci/run) and sets GODWIT_NEED_PGBOUNCER. */
function pgbouncerBinary() {
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    if (spawnSync(p, ['--version']).status === 0) return p
  }
  return null
}

/** A PgBouncer in transaction mode with `size` server sessions per database, in front of `url`'s server. */
async function pooler(t, url, size = 1) {
  const bin = pgbouncerBinary()
  if (!bin) return null
  const dir = tmpDir(t, 'godwit-pgbouncer-')
  chmodSync(dir, 0o755)
  const target = new URL(url)
  const port = await unusedPort()
  const server = `host=${target.hostname} port=${target.port || 5432} user=${decodeURIComponent(target.username)}` + (target.password ? ` password=${decodeURIComponent(target.password)}` : '')
  const ini = path.join(dir, 'pgbouncer.ini')
  writeFileSync(ini, `[databases]\n* = ${server}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = any\npool_mode = transaction\ndefault_pool_size = ${size}\nmax_client_conn = 50\nignore_startup_parameters = extra_float_digits,options\n`)
  chmodSync(ini, 0o644)
  // PgBouncer does not run as root
  const root = process.getuid?.() === 0
  const child = spawn(root ? 'runuser' : bin, root ? ['-u', 'postgres', '--', bin, ini] : [ini], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (d) => (log += d))
  t.after(() => child.kill('SIGTERM'))
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s.end() && true))
      s.on('error', () => resolve(false))
    })
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(child.exitCode, null, `PgBouncer did not start: ${log}`)
  const via = new URL(url)
  via.hostname = '127.0.0.1'
  via.port = String(port)
  via.searchParams.set('sslmode', 'disable')
  return via.toString()
}

test('up_refuses_a_pooler_in_transaction_mode_before_the_lock_and_status_still_works_through_it', async (t) => {
  const url = await freshDatabase(t)
  const pooled = await pooler(t, url)
  if (!pooled) {
    assert.ok(!process.env.GODWIT_NEED_PGBOUNCER, 'PgBouncer is not installed but CI needs this test')
    return t.skip('PgBouncer is not installed')
  }
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  // another client of the pooler holds the migration lock, on the pool's one server session
  const other = await admin(pooled)
  t.after(() => other.end())
  await other.query(`SELECT pg_advisory_lock(${KEY})`)
  // before: the job's pg_try_advisory_lock ran on that same server session and answered true,
  // and the migration ran while another client held the lock
  const r = await godwit(['up', '--sha', 'pool', '--json'], { cwd, env: { DATABASE_URL: pooled } })
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'CONFIG')
  assert.match(r.json.error.message, /through a pooler in transaction mode \(server session \d+ already held the migration lock for another client before this run asked for it\).*nothing was run; point the migration job's DATABASE_URL at the server itself or at a pooler in session mode/)
  assert.deepEqual(await tables(url), [], 'nothing created, not even the history table')
  // the job took nothing: the only lock on the server is the other client's, counted once
  const c = await admin(url)
  const held = (await c.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = ${KEY}`)).rows[0].n
  await c.end()
  assert.equal(held, 1)
  await other.query(`SELECT pg_advisory_unlock(${KEY})`)
  // direct to the server, the same job applies
  const direct = await godwit(['up', '--sha', 'direct'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(direct.code, 0, direct.stderr)
  // status only reads: the pooler serves it
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: pooled } })
  assert.equal(st.code, 0, st.stdout + st.stderr)
  assert.equal(st.json.clean, true)
})

const sleepingPid = async (url) => {
  for (let i = 0; i < 200; i++) {
    const rows = await query(url, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()")
    if (rows.length) return rows[0].pid
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('the first migration never slept')
}

/**
 * A pooler (two server sessions) moving the job `start` starts after it took the lock: B holds
 * one session, so the job connects, locks and runs on the other (the pooler's check at the lock
 * passes) until it sleeps there; C asks then, queues, and gets the job's session as soon as that
 * round trip ends; B lets its session go, so the job's next round trip runs there.
 */
async function moveTheJob(t, url, pooled, start) {
  const b = await admin(pooled)
  b.on('error', () => {}) // (ending the job's server session later may end the pooler's clients)
  t.after(() => b.end())
  await b.query('BEGIN')
  const bPid = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
  const run = start()
  const jobPid = await sleepingPid(url)
  const c = await admin(pooled)
  c.on('error', () => {})
  t.after(() => c.end())
  await c.query('BEGIN')
  assert.equal((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, jobPid, 'C holds the session the job locked on')
  await b.query('COMMIT')
  return { run, bPid, jobPid, c }
}

// The second migration (or none: the pooler moves the job before it releases the lock).
const NEXT = {
  transactional: sql('CREATE TABLE b (id bigint)'),
  non_transactional: 'export const up = `CREATE INDEX CONCURRENTLY a_id ON a (id)`\nexport const config = { transaction: false }\n',
  none: null,
}

for (const [next, second] of Object.entries(NEXT)) {
  test(`a_run_the_pooler_moves_after_the_lock_stops_on_another_session_before_anything_runs_there_next_${next}`, async (t) => {
    const url = await freshDatabase(t)
    const pooled = await pooler(t, url, 2)
    if (!pooled) {
      assert.ok(!process.env.GODWIT_NEED_PGBOUNCER, 'PgBouncer is not installed but CI needs this test')
      return t.skip('PgBouncer is not installed')
    }
    const files = { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id bigint); SELECT pg_sleep(2)') }
    if (second) files[`${V(2)}_a_id.mjs`] = second
    const cwd = await project(t, files)
    const { run, bPid, jobPid, c } = await moveTheJob(t, url, pooled, () => godwit(['up', '--sha', 'moved', '--json'], { cwd, env: { DATABASE_URL: pooled } }))
    if (next === 'non_transactional') {
      // C's open transaction would hold up a CREATE INDEX CONCURRENTLY there: C lets go once
      // the job's round trip is on B's session
      for (let i = 0; i < 200; i++) {
        const [row] = await query(url, 'SELECT query FROM pg_stat_activity WHERE pid = $1', [bPid])
        if (row?.query !== 'COMMIT') break
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      await c.query('COMMIT')
    }
    const r = await run
    // before: the second migration's SQL ran on B's session without the lock or the job's
    // timeouts, and the lock check after it said LOCK_LOST (exit 3), with the index left built
    // when it was non-transactional; with no second migration, the end-of-run lock check ran
    // there and said LOCK_LOST, and the lock stayed on the pooled session unsaid
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.equal(r.json.error.code, 'CONFIG')
    assert.match(r.json.error.message, new RegExp(`through a pooler in transaction mode \\(this session's statements ran on server session ${jobPid}, then on ${bPid}\\)`))
    // the lock is where the message says. C holds the job's server session to the end, so the
    // lock stays there; except when C let go early (non-transactional): then the pooler may lend
    // that session back to the job for its unlock (asked of that session only), which releases
    // the lock, and the message must say so (before, it said "stays" while the lock was gone)
    const held = (await query(url, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = ${KEY}`)).map((x) => x.pid)
    if (next === 'non_transactional' && held.length === 0) {
      assert.ok(r.json.error.message.includes(`the migration lock was released after all: the run's unlock reached server session ${jobPid} again`), r.json.error.message)
    } else {
      assert.deepEqual(held, [jobPid])
    }
    const left = held.length ? `the migration lock stays with server session ${jobPid} until the pooler closes that session` : 'the migration lock was released after all'
    if (second) {
      assert.ok(r.json.error.message.includes(`nothing of ${V(2)}_a_id.mjs ran, later migrations were not attempted (those before it are applied); ${left}`), r.json.error.message)
    } else {
      assert.ok(r.json.error.message.includes(`the run stopped; ${left}`), r.json.error.message)
    }
    const rep = report(cwd, 'moved')
    assert.deepEqual(rep.migrations.map((m) => m.state), second ? ['applied', 'pending'] : ['applied'])
    const made = await query(url, "SELECT relname FROM pg_class WHERE relname IN ('a_id', 'b')")
    assert.deepEqual(made, [], 'the second migration ran nowhere')
    const applied = await query(url, 'SELECT version FROM godwit_migrations ORDER BY version')
    assert.deepEqual(applied.map((x) => x.version), [V(1)])
    // released as the message says
    await query(url, `SELECT pg_terminate_backend(${jobPid})`)
    const direct = await godwit(['up', '--sha', 'direct'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(direct.code, 0, direct.stderr)
  })
}

test('a_baseline_the_pooler_moves_after_the_lock_records_nothing_on_the_other_session', async (t) => {
  // baseline's one write (every row in one transaction) carries the same-session check: a
  // pooler that moved the job after the lock (here while it read dbmate's history, a view that
  // sleeps) must not let that transaction commit on a session without the lock
  const url = await freshDatabase(t)
  const pooled = await pooler(t, url, 2)
  if (!pooled) {
    assert.ok(!process.env.GODWIT_NEED_PGBOUNCER, 'PgBouncer is not installed but CI needs this test')
    return t.skip('PgBouncer is not installed')
  }
  const cwd = sourceProject(t, { '20230102030405_init.sql': '-- migrate:up\nCREATE TABLE legacy (id int);\n-- migrate:down\nDROP TABLE legacy;\n' })
  assert.equal((await godwit(['import', 'dbmate', 'source'], { cwd })).code, 0)
  await query(url, "CREATE TABLE legacy (id int); CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20230102030405')")
  await query(url, 'CREATE VIEW slow_history AS SELECT s.version FROM schema_migrations s, pg_sleep(2)')
  const { run, bPid, jobPid } = await moveTheJob(t, url, pooled, () => godwit(['baseline', '--from', 'dbmate', '--tool-table', 'slow_history', '--sha', 'moved', '--json'], { cwd, env: { DATABASE_URL: pooled } }))
  const r = await run
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'CONFIG')
  assert.match(r.json.error.message, new RegExp(`through a pooler in transaction mode \\(this session's statements ran on server session ${jobPid}, then on ${bPid}\\).*nothing was recorded; the migration lock stays with server session ${jobPid} until the pooler closes that session`))
  const recorded = await query(url, "SELECT to_regclass('godwit_migrations') IS NOT NULL AS t")
  if (recorded[0].t) assert.deepEqual(await query(url, 'SELECT version FROM godwit_migrations'), [], 'nothing recorded anywhere')
  const held = await query(url, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = ${KEY}`)
  assert.deepEqual(held.map((x) => x.pid), [jobPid])
  await query(url, `SELECT pg_terminate_backend(${jobPid})`)
  const direct = await godwit(['baseline', '--from', 'dbmate', '--sha', 'direct'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(direct.code, 0, direct.stderr)
  assert.equal((await query(url, 'SELECT count(*)::int AS n FROM godwit_migrations'))[0].n, 1)
})
