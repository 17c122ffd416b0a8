// The migration job through a pooler in transaction mode (a real PgBouncer in front of the test
// server): its statements may run on another client's server session, where the migration lock
// is not the job's. `up` refuses there before taking the lock, naming the way out; `status` and
// `assertSchemaCurrent()` (no lock, read-only) still work through it.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync, chmodSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { godwit, tmpDir } from './helpers.mjs'
import { project, sql, V, tables } from './project.mjs'
import { freshDatabase, admin, stopServer } from './db.mjs'
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

/** A PgBouncer in transaction mode with one server session per database, in front of `url`'s server. */
async function pooler(t, url) {
  const bin = pgbouncerBinary()
  if (!bin) return null
  const dir = tmpDir(t, 'godwit-pgbouncer-')
  chmodSync(dir, 0o755)
  const target = new URL(url)
  const port = await unusedPort()
  const server = `host=${target.hostname} port=${target.port || 5432} user=${decodeURIComponent(target.username)}` + (target.password ? ` password=${decodeURIComponent(target.password)}` : '')
  const ini = path.join(dir, 'pgbouncer.ini')
  writeFileSync(ini, `[databases]\n* = ${server}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = any\npool_mode = transaction\ndefault_pool_size = 1\nmax_client_conn = 50\nignore_startup_parameters = extra_float_digits,options\n`)
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
